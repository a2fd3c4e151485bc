"""The storefront's tiers in the project's test command: its component tests (Vitest), its
production build with the bundle budget, and its end-to-end suite (Playwright driving the
system Chromium) against real services.

For the end-to-end suite identity, catalog, search and the gateway run as real processes on
the test platform's Redis, NATS, FerretDB and OpenSearch (``.platform-test/``, ports from
``EMPORIUM_TEST_SLOT``), each on a free port, in databases, namespaces and an index alias of
this session; the demo data is loaded with the services' own commands (identity's demo
accounts, catalog's demo catalog, a search rebuild); the production build is served by its
own static server. The gateway's CORS and identity's session cookie admit the shop's origin,
as on the local platform.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from emporium_platform.processes import (
    ServiceProcess,
    ensure_npm_installed,
    free_port,
    gateway_process,
    storefront_dir,
    storefront_process,
    uvicorn_process,
)
from pymongo import MongoClient

STOREFRONT = storefront_dir()
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))


def run_npm(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """``npm ARGS`` in the storefront's folder; fails the test with the tail of its output."""
    ensure_npm_installed(STOREFRONT)
    result = subprocess.run(
        ["npm", *args],
        cwd=STOREFRONT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"npm {' '.join(args)} failed:\n{output[-8000:]}"
    return output


def run_cli(module: str, *args: str, process: ServiceProcess) -> str:
    """A service's command (``python -m MODULE ARGS``) with that process's settings."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        env=process.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # the output may hold the demo passwords: only its tail, only on failure
    assert result.returncode == 0, f"{module} {args[0]} failed:\n{result.stderr[-4000:]}"
    return result.stdout


@dataclass(frozen=True)
class Shop:
    url: str
    gateway_url: str
    # the demo accounts identity's seed created: email -> password
    accounts: dict[str, str]


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def shop(platform: Any, run_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    logs = tmp_path_factory.mktemp("storefront-logs")
    shop_port = free_port()
    shop_origin = f"http://127.0.0.1:{shop_port}"
    identity_port = free_port()
    databases = {name: f"storefront_{name}_{run_id}" for name in ("identity", "catalog", "search")}
    alias = f"products_sf{run_id}"
    processes: list[ServiceProcess] = []

    def start(process: ServiceProcess) -> ServiceProcess:
        processes.append(process)
        return process.start(timeout=120)

    try:
        identity = start(
            uvicorn_process(
                "emporium_identity.app:app",
                port=identity_port,
                log_dir=logs,
                env={
                    **platform.env(),
                    "EMPORIUM_MONGO_DATABASE": databases["identity"],
                    "EMPORIUM_IDENTITY_REDIS_NAMESPACE": f"sf-{run_id}",
                    "EMPORIUM_IDENTITY_PUBLIC_URL": f"http://127.0.0.1:{identity_port}",
                    "EMPORIUM_IDENTITY_SESSION_ORIGINS": shop_origin,
                    "EMPORIUM_IDENTITY_KEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                    # cheap hashes and generous limits: every request comes from 127.0.0.1
                    "EMPORIUM_IDENTITY_ARGON2_TIME_COST": "1",
                    "EMPORIUM_IDENTITY_ARGON2_MEMORY_KIB": "1024",
                    "EMPORIUM_IDENTITY_LOGIN_LIMIT_PER_ADDRESS": "10000/minute",
                    "EMPORIUM_IDENTITY_REGISTER_LIMIT_PER_ADDRESS": "10000/minute",
                    "EMPORIUM_IDENTITY_REFRESH_LIMIT_PER_ADDRESS": "10000/minute",
                },
            )
        )
        jwks = f"{identity.url}/.well-known/jwks.json"
        catalog = start(
            uvicorn_process(
                "emporium_catalog.app:app",
                log_dir=logs,
                env={
                    **platform.env(),
                    "EMPORIUM_MONGO_DATABASE": databases["catalog"],
                    "EMPORIUM_CATALOG_CACHE_NAMESPACE": f"sf-{run_id}",
                    "EMPORIUM_JWKS_URL": jwks,
                },
            )
        )
        search = start(
            uvicorn_process(
                "emporium_search.app:app",
                log_dir=logs,
                env={
                    **platform.env(),
                    "EMPORIUM_MONGO_DATABASE": databases["search"],
                    "EMPORIUM_SEARCH_INDEX_ALIAS": alias,
                    "EMPORIUM_SEARCH_CONSUMER_NAME": f"search-sf-{run_id}",
                    "EMPORIUM_SEARCH_CONSUMER_DELIVER": "new",
                    "EMPORIUM_SEARCH_CATALOG_URL": catalog.graphql_url,
                },
            )
        )
        gateway = start(
            gateway_process(
                name="gateway-storefront",
                log_dir=logs,
                env={
                    "EMPORIUM_ENVIRONMENT": "development",
                    "EMPORIUM_JWKS_URL": jwks,
                    "EMPORIUM_CORS_ORIGINS": shop_origin,
                    "EMPORIUM_SUBGRAPH_IDENTITY_URL": identity.graphql_url,
                    "EMPORIUM_SUBGRAPH_CATALOG_URL": catalog.graphql_url,
                    "EMPORIUM_SUBGRAPH_SEARCH_URL": search.graphql_url,
                },
            )
        )
        # the demo data, the way `./emporium up --seed` loads it
        seeded = run_cli("emporium_identity.cli", "seed", process=identity)
        accounts = dict(re.findall(r"^\s+(\S+@emporium\.example)\s+(\S+)\s+roles", seeded, re.M))
        run_cli("emporium_catalog.cli", "seed", process=catalog)
        run_cli("emporium_search.cli", "rebuild", process=search)
        storefront = start(
            storefront_process(
                port=shop_port,
                log_dir=logs,
                env={
                    "EMPORIUM_GATEWAY_URL": gateway.graphql_url,
                    "EMPORIUM_IDENTITY_URL": identity.url,
                },
            )
        )
        yield Shop(storefront.url, gateway.graphql_url, accounts)
    finally:
        for process in reversed(processes):
            process.stop()
        with MongoClient(platform.mongo_url) as client:
            for database in databases.values():
                client.drop_database(database)
        httpx.delete(f"{platform.opensearch_url}/{alias}*", timeout=30)


@pytest.fixture
def npm() -> Any:
    return run_npm


@pytest.fixture(scope="session")
def e2e_env(shop: Shop) -> dict[str, str]:
    """Where the end-to-end suite finds the shop, and the demo accounts it signs in with."""
    return {
        "EMPORIUM_STOREFRONT_URL": shop.url,
        "EMPORIUM_GATEWAY_URL": shop.gateway_url,
        "EMPORIUM_E2E_ACCOUNTS": json.dumps(shop.accounts),
        "CHROMIUM_PATH": str(CHROMIUM),
    }
