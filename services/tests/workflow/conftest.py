"""Fixtures for the workflow tests: a client talking to the REAL gateway.

Identity, catalog and the gateway run as real processes (``emporium_platform.processes``, as
the benchmarks use them) on the platform's Redis, NATS and FerretDB, each service in a Mongo
database and Redis namespace unique to the session. The gateway verifies tokens with
identity's JWKS and forwards them; catalog verifies them again with the same JWKS. OAuth
sign-in goes to the identity tests' local OpenID Connect provider (real HTTP, real protocol).
Nothing is mocked.

argon2id runs with small parameters here (the production ones are measured by
``loadtests/bench_login.py``); the per-address limits are high because every request of the
suite comes from 127.0.0.1, and the lockout is short-fused so brute force shows quickly.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from emporium_platform.processes import (
    ServiceProcess,
    ensure_gateway_installed,
    free_port,
    gateway_process,
    uvicorn_process,
)
from pymongo import MongoClient
from pymongo.database import Database

REPO_ROOT = Path(__file__).resolve().parents[3]
OIDC_PROVIDER_FILE = REPO_ROOT / "services" / "identity" / "tests" / "oidc_provider.py"
PASSWORD = "correct horse battery staple"
LOCKOUT_THRESHOLD = 3
# the identity process publishes a rotated key this long before signing with it; catalog's
# JWKS refetch interval must stay below it (docs/identity.md, key rotation)
KEY_ACTIVATION_DELAY_S = 3
CATALOG_JWKS_REFETCH_S = 1
# identity's Fernet key for private keys at rest, fresh per session; tests that sign with
# identity's own key ring need it too
KEY_ENCRYPTION_KEY = Fernet.generate_key().decode()


def load_oidc_provider() -> ModuleType:
    """The identity tests' local OIDC provider, imported from its file (not copied)."""
    name = "emporium_identity_tests_oidc_provider"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, OIDC_PROVIDER_FILE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module while the class is built
    spec.loader.exec_module(module)
    return module


def claims_of(token: str) -> dict[str, Any]:
    """The (unverified) payload of a JWT."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def header_of(token: str) -> dict[str, Any]:
    header = token.split(".", maxsplit=1)[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))


# --- the client side ---------------------------------------------------------------------------


@dataclass
class Gateway:
    """A GraphQL client of one gateway: documents, or persisted operations by name."""

    process: ServiceProcess
    operations: dict[str, str]
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))

    @property
    def url(self) -> str:
        return self.process.graphql_url

    def post(
        self,
        body: dict[str, Any],
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["authorization"] = f"Bearer {token}"
        return self.http.post(self.url, json=body, headers=all_headers)

    def query(
        self,
        document: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return self.post(
            {"query": document, "variables": variables or {}}, token=token, headers=headers
        )

    def run(
        self,
        operation: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A persisted operation (services/gateway/operations/<operation>.graphql) by id."""
        body = {"documentId": self.operations[operation], "variables": variables or {}}
        return self.post(body, token=token, headers=headers)


def data(response: httpx.Response) -> dict[str, Any]:
    """The response's data; fails on any error."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def error(response: httpx.Response) -> dict[str, Any]:
    """The first error of a refused operation (which returns no data)."""
    body = response.json()
    assert body.get("errors"), body
    assert body.get("data") is None or all(v is None for v in body["data"].values()), body
    return body["errors"][0]


def code(response: httpx.Response) -> str | None:
    return error(response).get("extensions", {}).get("code")


@dataclass
class Account:
    user_id: str
    email: str
    access_token: str
    refresh_token: str


def unique_email(label: str = "user") -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}@example.com"


def register(gateway: Gateway, email: str | None = None, password: str = PASSWORD) -> Account:
    address = email or unique_email()
    payload = data(gateway.run("Register", {"input": {"email": address, "password": password}}))[
        "register"
    ]
    return Account(payload["user"]["id"], address, payload["accessToken"], payload["refreshToken"])


def login(gateway: Gateway, email: str, password: str = PASSWORD) -> Account:
    payload = data(gateway.run("Login", {"input": {"email": email, "password": password}}))["login"]
    return Account(payload["user"]["id"], email, payload["accessToken"], payload["refreshToken"])


def refresh(gateway: Gateway, account: Account) -> Account:
    payload = data(gateway.run("RefreshToken", {"refreshToken": account.refresh_token}))[
        "refreshToken"
    ]
    return Account(account.user_id, account.email, payload["accessToken"], payload["refreshToken"])


# --- the processes -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workflow-logs")


@pytest.fixture(scope="session")
def oidc() -> Iterator[Any]:
    provider = load_oidc_provider().LocalOidcProvider()
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def identity_database(run_id: str) -> str:
    return f"workflow_identity_{run_id}"


@pytest.fixture(scope="session")
def catalog_database(run_id: str) -> str:
    return f"workflow_catalog_{run_id}"


@pytest.fixture(scope="session")
def identity(
    platform: Any,
    oidc: Any,
    run_id: str,
    identity_database: str,
    logs: Path,
) -> Iterator[ServiceProcess]:
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    oidc.redirect_uris.add(f"{public_url}/oauth/local/callback")
    providers = {
        "local": {
            "issuer": oidc.issuer,
            "client_id": oidc.client_id,
            "client_secret": oidc.client_secret,
        }
    }
    everyone = "10000/minute"
    env = {
        **platform.env(),
        "EMPORIUM_MONGO_DATABASE": identity_database,
        "EMPORIUM_IDENTITY_REDIS_NAMESPACE": f"wf-{run_id}",
        "EMPORIUM_IDENTITY_PUBLIC_URL": public_url,
        "EMPORIUM_IDENTITY_KEY_ENCRYPTION_KEYS": KEY_ENCRYPTION_KEY,
        "EMPORIUM_IDENTITY_KEY_ACTIVATION_DELAY_S": str(KEY_ACTIVATION_DELAY_S),
        "EMPORIUM_IDENTITY_KEY_CACHE_S": "0.5",
        "EMPORIUM_IDENTITY_ARGON2_TIME_COST": "1",
        "EMPORIUM_IDENTITY_ARGON2_MEMORY_KIB": "1024",
        "EMPORIUM_IDENTITY_HASH_CONCURRENCY": "4",
        "EMPORIUM_IDENTITY_RELAY_POLL_INTERVAL_S": "1",
        "EMPORIUM_IDENTITY_LOGIN_LIMIT_PER_ADDRESS": everyone,
        "EMPORIUM_IDENTITY_REGISTER_LIMIT_PER_ADDRESS": everyone,
        "EMPORIUM_IDENTITY_REFRESH_LIMIT_PER_ADDRESS": everyone,
        "EMPORIUM_IDENTITY_LOCKOUT_THRESHOLD": str(LOCKOUT_THRESHOLD),
        "EMPORIUM_IDENTITY_LOCKOUT_BASE_S": "30",
        "EMPORIUM_IDENTITY_OAUTH_PROVIDERS": json.dumps(providers),
    }
    process = uvicorn_process("emporium_identity.app:app", env=env, port=port, log_dir=logs)
    process.start(timeout=120)
    yield process
    process.stop()
    with MongoClient(platform.mongo_url) as client:
        client.drop_database(identity_database)


@pytest.fixture(scope="session")
def jwks_url(identity: ServiceProcess) -> str:
    return f"{identity.url}/.well-known/jwks.json"


@pytest.fixture(scope="session")
def catalog(
    platform: Any, run_id: str, catalog_database: str, jwks_url: str, logs: Path
) -> Iterator[ServiceProcess]:
    env = {
        **platform.env(),
        "EMPORIUM_MONGO_DATABASE": catalog_database,
        "EMPORIUM_CATALOG_CACHE_NAMESPACE": f"wf-{run_id}",
        "EMPORIUM_JWKS_URL": jwks_url,
        "EMPORIUM_JWKS_REFETCH_MIN_INTERVAL_S": str(CATALOG_JWKS_REFETCH_S),
    }
    process = uvicorn_process("emporium_catalog.app:app", env=env, log_dir=logs)
    process.start(timeout=120)
    yield process
    process.stop()
    with MongoClient(platform.mongo_url) as client:
        client.drop_database(catalog_database)


@pytest.fixture(scope="session")
def search(
    platform: Any, run_id: str, catalog: ServiceProcess, logs: Path
) -> Iterator[ServiceProcess]:
    """The search service with its own index alias and durable consumer, indexing the
    catalog events published from the moment it starts."""
    alias = f"products_wf{run_id}"
    env = {
        **platform.env(),
        "EMPORIUM_MONGO_DATABASE": f"search_wf_{run_id}",
        "EMPORIUM_SEARCH_INDEX_ALIAS": alias,
        "EMPORIUM_SEARCH_CONSUMER_NAME": f"search-wf-{run_id}",
        "EMPORIUM_SEARCH_CONSUMER_DELIVER": "new",
        "EMPORIUM_SEARCH_CATALOG_URL": catalog.graphql_url,
    }
    process = uvicorn_process("emporium_search.app:app", env=env, log_dir=logs)
    process.start(timeout=120)
    yield process
    process.stop()
    with MongoClient(platform.mongo_url) as client:
        client.drop_database(f"search_wf_{run_id}")
    httpx.delete(f"{platform.opensearch_url}/{alias}*", timeout=30)


@pytest.fixture(scope="session")
def gateway_env(
    identity: ServiceProcess, catalog: ServiceProcess, search: ServiceProcess, jwks_url: str
) -> dict[str, str]:
    return {
        "EMPORIUM_ENVIRONMENT": "development",
        "EMPORIUM_JWKS_URL": jwks_url,
        "EMPORIUM_SUBGRAPH_IDENTITY_URL": identity.graphql_url,
        "EMPORIUM_SUBGRAPH_CATALOG_URL": catalog.graphql_url,
        "EMPORIUM_SUBGRAPH_SEARCH_URL": search.graphql_url,
    }


@pytest.fixture(scope="session")
def persisted_ids() -> dict[str, str]:
    manifest = json.loads((ensure_gateway_installed() / "persisted-operations.json").read_text())
    return {op["name"]: op["id"] for op in manifest["operations"]}


@pytest.fixture(scope="session")
def gateway(
    gateway_env: dict[str, str], persisted_ids: dict[str, str], logs: Path
) -> Iterator[Gateway]:
    """The gateway as `emporium-platform up` runs it: development mode, the committed
    supergraph and persisted operations, default limits."""
    process = gateway_process(env=gateway_env, name="gateway-workflow", log_dir=logs)
    process.start(timeout=90)
    client = Gateway(process, persisted_ids)
    yield client
    client.http.close()
    process.stop()


# --- accounts and catalog data -----------------------------------------------------------------


def identity_cli(identity: ServiceProcess, *args: str, **env: str) -> str:
    """Run ``emporium-identity ARGS`` against the test's identity database; its stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "emporium_identity.cli", *args],
        env={**identity.env, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="session")
def admin_credentials(identity: ServiceProcess, run_id: str) -> tuple[str, str]:
    """An admin bootstrapped the documented way: ``emporium-identity create-admin``."""
    email = f"admin-{run_id}@example.com"
    password = secrets.token_urlsafe(18)
    identity_cli(
        identity, "create-admin", "--email", email, EMPORIUM_IDENTITY_ADMIN_PASSWORD=password
    )
    return email, password


@pytest.fixture
def admin(gateway: Gateway, admin_credentials: tuple[str, str]) -> Account:
    """A fresh admin session (signed with identity's current key)."""
    return login(gateway, *admin_credentials)


@dataclass(frozen=True)
class CatalogSeed:
    category_id: str
    seller_id: str


@pytest.fixture(scope="session")
def catalog_seed(gateway: Gateway, admin_credentials: tuple[str, str], run_id: str) -> CatalogSeed:
    """A category and a seller, created through the gateway by the admin."""
    token = login(gateway, *admin_credentials).access_token
    category = data(
        gateway.query(
            "mutation($n: String!) { createCategory(input: {name: $n}) { id } }",
            {"n": f"Workflow {run_id}"},
            token=token,
        )
    )["createCategory"]
    seller = data(
        gateway.query(
            "mutation($n: String!) { createSeller(input: {name: $n}) { id } }",
            {"n": f"Workflow Seller {run_id}"},
            token=token,
        )
    )["createSeller"]
    return CatalogSeed(category["id"], seller["id"])


@pytest.fixture(scope="session")
def mongo(platform: Any) -> Iterator[MongoClient[dict[str, Any]]]:
    with MongoClient(platform.mongo_url) as client:
        yield client


@pytest.fixture(scope="session")
def identity_db(mongo: MongoClient[dict[str, Any]], identity_database: str) -> Database[Any]:
    """Identity's database, read directly to check what was (not) stored."""
    return mongo[identity_database]


@pytest.fixture(scope="session")
def catalog_db(mongo: MongoClient[dict[str, Any]], catalog_database: str) -> Database[Any]:
    """Catalog's database, read directly to check what was (not) written."""
    return mongo[catalog_database]
