"""The demo shop on the test platform, for the storefront's end-to-end tests, its Lighthouse
measurements and its screenshots: identity, catalog, search, cart, the checkout's services
(inventory, payment, order, notification) and a gateway as a
:class:`~emporium_platform.harness.Stack` (real processes on free ports, this session's
databases, namespaces and index), the demo data loaded by the services' own commands
(identity's demo accounts, catalog's demo catalog, a search rebuild, the cart's demo offers
and coupon, the inventory's demo stock of every SKU), and the storefront's
production build behind its static server. The gateway's CORS and identity's session cookie
admit the shop's origin, as on the local platform::

    with Stack(platform, label="shop", log_dir=...) as stack, demo_shop(stack) as shop:
        httpx.get(shop.url)

From a shell, a command runs against a demo shop on the test platform's infrastructure
(``EMPORIUM_TEST_SLOT``) with ``EMPORIUM_STOREFRONT_URL``, ``EMPORIUM_GATEWAY_URL``,
``EMPORIUM_IDENTITY_URL`` and ``EMPORIUM_E2E_ACCOUNTS`` (JSON) set::

    uv run python -m emporium_platform.shop node services/storefront/scripts/screenshots.mjs
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from emporium_platform.core import Platform
from emporium_platform.harness import Stack
from emporium_platform.installers import ensure_chromium
from emporium_platform.processes import ServiceProcess, free_port, storefront_process
from emporium_platform.registry import Registry
from emporium_platform.registry import load as load_registry
from emporium_platform.services import resolve_command

# every request comes from 127.0.0.1: the per-address limits must not get in the way
UNLIMITED = "10000/minute"
# FerretDB on SQLite scans for most reads; on a test machine busy with other suites a page of
# the rebuild, or a search, can take longer than the production defaults allow
SLOW_MACHINE = {"EMPORIUM_MONGO_TIMEOUT_S": "15"}
SUBGRAPH_TIMEOUT_MS = "30000"
SSR_DEADLINE_MS = "15000"


@dataclass(frozen=True)
class DemoShop:
    url: str
    gateway_url: str
    identity_url: str
    # identity's demo accounts (admin@, seller@, customer@emporium.example) and their passwords
    accounts: dict[str, str]


def _seed(stack: Stack, registry: Registry, name: str, *, process: ServiceProcess) -> str:
    """``name``'s seed command from its registry table (what ``./emporium up`` runs), with
    that process's settings: the shop's data is the demo's, loaded the same way."""
    spec = registry[name]
    if spec.seed is None:
        raise RuntimeError(f"{name} has no seed command in its registry table")
    command = resolve_command(spec.seed, stack.platform.config, registry, spec)
    result = subprocess.run(
        command, env=process.env, capture_output=True, text=True, timeout=600, check=False
    )
    # stdout may hold the demo passwords: only stderr, only on failure
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(spec.seed)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def _warm_search(gateway_url: str, timeout_s: float = 120.0) -> None:
    """Wait until a search answers through the gateway: the first queries after a rebuild load
    OpenSearch's caches and can outlast the gateway's wait on a busy machine; a shopper's
    first page should not be that one."""
    query = '{ search(query: "phone", first: 1) { totalCount edges { node { id } } } }'
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    with httpx.Client(timeout=30.0) as client:
        while time.monotonic() < deadline:
            try:
                body = client.post(gateway_url, json={"query": query}).json()
            except (httpx.HTTPError, ValueError) as exc:
                last = repr(exc)
            else:
                if not body.get("errors") and (body.get("data") or {}).get("search"):
                    return
                last = str(body.get("errors"))[:500]
            time.sleep(0.5)  # poll interval between attempts
    raise RuntimeError(f"search did not answer through the gateway within {timeout_s:.0f}s: {last}")


@contextmanager
def demo_shop(stack: Stack, *, log_dir: Path | None = None) -> Iterator[DemoShop]:
    """Start the shop's services in ``stack`` (closed by its owner) and the storefront."""
    shop_port = free_port()
    shop_origin = f"http://127.0.0.1:{shop_port}"
    identity = stack.start(
        "identity",
        env={
            **SLOW_MACHINE,
            "EMPORIUM_IDENTITY_SESSION_ORIGINS": shop_origin,
            "EMPORIUM_IDENTITY_LOGIN_LIMIT_PER_ADDRESS": UNLIMITED,
            "EMPORIUM_IDENTITY_REGISTER_LIMIT_PER_ADDRESS": UNLIMITED,
            "EMPORIUM_IDENTITY_REFRESH_LIMIT_PER_ADDRESS": UNLIMITED,
        },
    )
    catalog = stack.start("catalog", env=SLOW_MACHINE)
    search = stack.start("search", env=SLOW_MACHINE)
    # the cart and checkout read the catalog's events from the time they start: before its seed
    cart = stack.start("cart", env=SLOW_MACHINE)
    inventory = stack.start(
        "inventory",
        env={**SLOW_MACHINE, "EMPORIUM_INVENTORY_CATALOG_URL": catalog.graphql_url},
    )
    for service in ("payment", "order", "notification"):
        stack.start(service, env=SLOW_MACHINE)
    gateway = stack.gateway(
        EMPORIUM_CORS_ORIGINS=shop_origin, EMPORIUM_SUBGRAPH_TIMEOUT_MS=SUBGRAPH_TIMEOUT_MS
    )
    registry = load_registry()
    seeded = _seed(stack, registry, "identity", process=identity)
    accounts = dict(re.findall(r"^\s+(\S+@emporium\.example)\s+(\S+)\s+roles", seeded, re.M))
    # the catalog announces no products: search rebuilds from its export and the inventory
    # stocks every SKU in bulk, as on the local platform
    for name, process in (
        ("catalog", catalog),
        ("search", search),
        ("cart", cart),
        ("inventory", inventory),
    ):
        _seed(stack, registry, name, process=process)
    _warm_search(gateway.url)
    storefront = storefront_process(
        port=shop_port,
        log_dir=log_dir or stack.log_dir,
        env={
            "EMPORIUM_GATEWAY_URL": gateway.url,
            "EMPORIUM_IDENTITY_URL": identity.url,
            # the shopper's pages always arrive rendered, however loaded the machine (a render
            # past the production deadline would hand the page to the browser instead)
            "EMPORIUM_SSR_DEADLINE_MS": SSR_DEADLINE_MS,
        },
    )
    with storefront.start(timeout=120):
        yield DemoShop(storefront.url, gateway.url, identity.url, accounts)


def shop_environment(shop: DemoShop) -> dict[str, str]:
    """What a client of the demo shop (the end-to-end suite, a measurement) is told of it,
    and the browser it drives (installed when missing)."""
    chromium = ensure_chromium(lambda message: print(message, file=sys.stderr))
    return {
        "CHROMIUM_PATH": str(chromium),
        "EMPORIUM_STOREFRONT_URL": shop.url,
        "EMPORIUM_GATEWAY_URL": shop.gateway_url,
        "EMPORIUM_IDENTITY_URL": shop.identity_url,
        "EMPORIUM_E2E_ACCOUNTS": json.dumps(shop.accounts),
    }


class _TestPlatform:
    """The test platform's instance as a stack sees it (the pytest plugin's handle, outside
    pytest)."""

    def __init__(self, platform: Platform) -> None:
        self.config = platform.config
        self.mongo_url = platform.config.mongo_url
        self.opensearch_url = platform.config.opensearch_url


@contextmanager
def test_platform_shop() -> Iterator[DemoShop]:
    """A demo shop on the test platform's infrastructure (started when it is not running)."""
    platform = Platform.for_tests()
    platform.up(infra_only=True)
    # as in a test session: the services' settings never fall back to the developer's platform
    os.environ["EMPORIUM_ENV_FILE"] = str(platform.config.env_file)
    logs = Path(tempfile.mkdtemp(prefix="emporium-shop-"))
    with (
        Stack(_TestPlatform(platform), label="shop", log_dir=logs) as stack,
        demo_shop(stack) as shop,
    ):
        yield shop


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m emporium_platform.shop COMMAND...``: run COMMAND against a demo shop on the
    test platform's infrastructure; its exit status."""
    command = list(sys.argv[1:] if argv is None else argv)
    if not command:
        print("usage: python -m emporium_platform.shop COMMAND [ARGS...]", file=sys.stderr)
        return 2
    with test_platform_shop() as shop:
        print(f"demo shop on {shop.url}", file=sys.stderr)
        environment = {**os.environ, **shop_environment(shop)}
        return subprocess.run(command, env=environment, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
