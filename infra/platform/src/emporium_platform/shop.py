"""The demo shop on free loopback ports, for the storefront's end-to-end tests and its
Lighthouse measurements: identity, catalog, search, the gateway and the storefront's
production build, each a real process (:mod:`emporium_platform.processes`) on a platform
instance's Redis, NATS, FerretDB and OpenSearch, in databases, namespaces and an index alias of
its own, with the demo data loaded by the services' own commands (identity's demo accounts,
catalog's demo catalog, a search rebuild). The gateway's CORS and identity's session cookie
admit the shop's origin, as on the local platform::

    with demo_shop(platform.env(), mongo_url=..., opensearch_url=...) as shop:
        httpx.get(shop.url)

Everything it created is stopped and dropped on the way out. From a shell, on the test
platform's infrastructure (``EMPORIUM_TEST_SLOT``), a command runs against it with
``EMPORIUM_STOREFRONT_URL``, ``EMPORIUM_GATEWAY_URL``, ``EMPORIUM_IDENTITY_URL`` and
``EMPORIUM_E2E_ACCOUNTS`` (JSON) set::

    uv run python -m emporium_platform.shop node services/storefront/scripts/screenshots.mjs
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from pymongo import MongoClient

from emporium_platform.core import Platform
from emporium_platform.processes import (
    ServiceProcess,
    free_port,
    gateway_process,
    storefront_process,
    uvicorn_process,
)

# every request comes from 127.0.0.1: the per-address limits must not get in the way
UNLIMITED = "10000/minute"
# FerretDB on SQLite scans for most reads; on a test machine busy with other suites a page of
# the rebuild can take longer than the services' production default (2 s)
MONGO_TIMEOUT_S = "15"
# likewise the gateway's wait for a subgraph (10 s by default)
SUBGRAPH_TIMEOUT_MS = "30000"


@dataclass(frozen=True)
class DemoShop:
    url: str
    gateway_url: str
    identity_url: str
    # identity's demo accounts (admin@, seller@, customer@emporium.example) and their passwords
    accounts: dict[str, str]


def _warm_search(gateway_url: str, timeout_s: float = 120.0) -> None:
    """Wait until a faceted search answers through the gateway: the first queries after a
    rebuild load OpenSearch's caches and can outlast the gateway's subgraph timeout on a busy
    machine; a shopper's first page should not be that one."""
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


def _run(module: str, *args: str, process: ServiceProcess) -> str:
    """A service's command (``python -m MODULE ARGS``) with that process's settings."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        env=process.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # stdout may hold the demo passwords: only stderr, only on failure
    if result.returncode != 0:
        raise RuntimeError(f"{module} {args[0]} failed:\n{result.stderr[-4000:]}")
    return result.stdout


@contextmanager
def demo_shop(
    platform_env: Mapping[str, str],
    *,
    mongo_url: str,
    opensearch_url: str,
    log_dir: Path | None = None,
) -> Iterator[DemoShop]:
    run_id = uuid.uuid4().hex[:8]
    shop_port, identity_port = free_port(), free_port()
    shop_origin = f"http://127.0.0.1:{shop_port}"
    databases = {name: f"shop_{name}_{run_id}" for name in ("identity", "catalog", "search")}
    platform_env = {**platform_env, "EMPORIUM_MONGO_TIMEOUT_S": MONGO_TIMEOUT_S}
    alias = f"products_shop{run_id}"
    processes: list[ServiceProcess] = []

    def start(process: ServiceProcess) -> ServiceProcess:
        processes.append(process)
        return process.start(timeout=120)

    try:
        identity = start(
            uvicorn_process(
                "emporium_identity.app:app",
                port=identity_port,
                log_dir=log_dir,
                env={
                    **platform_env,
                    "EMPORIUM_MONGO_DATABASE": databases["identity"],
                    "EMPORIUM_IDENTITY_REDIS_NAMESPACE": f"shop-{run_id}",
                    "EMPORIUM_IDENTITY_PUBLIC_URL": f"http://127.0.0.1:{identity_port}",
                    "EMPORIUM_IDENTITY_SESSION_ORIGINS": shop_origin,
                    "EMPORIUM_IDENTITY_KEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                    # cheap hashes: sign-ins are part of the journeys, not what is measured
                    "EMPORIUM_IDENTITY_ARGON2_TIME_COST": "1",
                    "EMPORIUM_IDENTITY_ARGON2_MEMORY_KIB": "1024",
                    "EMPORIUM_IDENTITY_LOGIN_LIMIT_PER_ADDRESS": UNLIMITED,
                    "EMPORIUM_IDENTITY_REGISTER_LIMIT_PER_ADDRESS": UNLIMITED,
                    "EMPORIUM_IDENTITY_REFRESH_LIMIT_PER_ADDRESS": UNLIMITED,
                },
            )
        )
        jwks = f"{identity.url}/.well-known/jwks.json"
        catalog = start(
            uvicorn_process(
                "emporium_catalog.app:app",
                log_dir=log_dir,
                env={
                    **platform_env,
                    "EMPORIUM_MONGO_DATABASE": databases["catalog"],
                    "EMPORIUM_CATALOG_CACHE_NAMESPACE": f"shop-{run_id}",
                    "EMPORIUM_JWKS_URL": jwks,
                },
            )
        )
        search = start(
            uvicorn_process(
                "emporium_search.app:app",
                log_dir=log_dir,
                env={
                    **platform_env,
                    "EMPORIUM_MONGO_DATABASE": databases["search"],
                    "EMPORIUM_SEARCH_INDEX_ALIAS": alias,
                    "EMPORIUM_SEARCH_CONSUMER_NAME": f"search-shop-{run_id}",
                    "EMPORIUM_SEARCH_CONSUMER_DELIVER": "new",
                    "EMPORIUM_SEARCH_CATALOG_URL": catalog.graphql_url,
                },
            )
        )
        gateway = start(
            gateway_process(
                name="gateway-shop",
                log_dir=log_dir,
                env={
                    "EMPORIUM_ENVIRONMENT": "development",
                    "EMPORIUM_JWKS_URL": jwks,
                    "EMPORIUM_CORS_ORIGINS": shop_origin,
                    "EMPORIUM_SUBGRAPH_TIMEOUT_MS": SUBGRAPH_TIMEOUT_MS,
                    "EMPORIUM_SUBGRAPH_IDENTITY_URL": identity.graphql_url,
                    "EMPORIUM_SUBGRAPH_CATALOG_URL": catalog.graphql_url,
                    "EMPORIUM_SUBGRAPH_SEARCH_URL": search.graphql_url,
                },
            )
        )
        seeded = _run("emporium_identity.cli", "seed", process=identity)
        accounts = dict(re.findall(r"^\s+(\S+@emporium\.example)\s+(\S+)\s+roles", seeded, re.M))
        _run("emporium_catalog.cli", "seed", process=catalog)
        _run("emporium_search.cli", "rebuild", process=search)
        _warm_search(gateway.graphql_url)
        storefront = start(
            storefront_process(
                port=shop_port,
                log_dir=log_dir,
                env={
                    "EMPORIUM_GATEWAY_URL": gateway.graphql_url,
                    "EMPORIUM_IDENTITY_URL": identity.url,
                },
            )
        )
        yield DemoShop(storefront.url, gateway.graphql_url, identity.url, accounts)
    finally:
        for process in reversed(processes):
            process.stop()
        with MongoClient(mongo_url) as client:
            for database in databases.values():
                client.drop_database(database)
        httpx.delete(f"{opensearch_url}/{alias}*", timeout=30)


def shop_environment(shop: DemoShop) -> dict[str, str]:
    """What a client of the demo shop (the end-to-end suite, a measurement) is told of it."""
    return {
        "EMPORIUM_STOREFRONT_URL": shop.url,
        "EMPORIUM_GATEWAY_URL": shop.gateway_url,
        "EMPORIUM_IDENTITY_URL": shop.identity_url,
        "EMPORIUM_E2E_ACCOUNTS": json.dumps(shop.accounts),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m emporium_platform.shop COMMAND...``: run COMMAND against a demo shop on the
    test platform's infrastructure; its exit status."""
    command = list(sys.argv[1:] if argv is None else argv)
    if not command:
        print("usage: python -m emporium_platform.shop COMMAND [ARGS...]", file=sys.stderr)
        return 2
    platform = Platform.for_tests()
    platform.up(infra_only=True)
    with demo_shop(
        platform.env(),
        mongo_url=platform.config.mongo_url,
        opensearch_url=platform.config.opensearch_url,
    ) as shop:
        print(f"demo shop on {shop.url}", file=sys.stderr)
        environment = {**os.environ, **shop_environment(shop)}
        return subprocess.run(command, env=environment, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
