"""Fixtures for the workflow tests: a client talking to the REAL gateway.

Identity, catalog, search and the gateway run as real processes, started by the test harness
(the ``stacks`` fixture of ``emporium_platform``) on the platform's Redis, NATS, FerretDB and
OpenSearch, each service with a Mongo database and names unique to the session. The gateway
verifies tokens with identity's JWKS and forwards them; catalog verifies them again with the
same JWKS. OAuth sign-in goes to the identity tests' local OpenID Connect provider (real HTTP,
real protocol). Nothing is mocked.

On top of identity's test defaults (cheap argon2id; its registry table's ``test_env``), the
per-address limits are high because every request of the suite comes from 127.0.0.1, and the
lockout is short-fused so brute force shows quickly.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import secrets
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from emporium_platform.harness import GraphQLClient, Stack
from emporium_platform.processes import ServiceProcess
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
# likewise the gateway's JWKS refresh period: it knows a rotated key before identity signs with it
GATEWAY_JWKS_REFRESH_MS = 1000
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


def register(gateway: GraphQLClient, email: str | None = None, password: str = PASSWORD) -> Account:
    address = email or unique_email()
    payload = data(gateway.run("Register", {"input": {"email": address, "password": password}}))[
        "register"
    ]
    return Account(payload["user"]["id"], address, payload["accessToken"], payload["refreshToken"])


def login(gateway: GraphQLClient, email: str, password: str = PASSWORD) -> Account:
    payload = data(gateway.run("Login", {"input": {"email": email, "password": password}}))["login"]
    return Account(payload["user"]["id"], email, payload["accessToken"], payload["refreshToken"])


def refresh(gateway: GraphQLClient, account: Account) -> Account:
    payload = data(gateway.run("RefreshToken", {"refreshToken": account.refresh_token}))[
        "refreshToken"
    ]
    return Account(account.user_id, account.email, payload["accessToken"], payload["refreshToken"])


# --- the processes -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def oidc() -> Iterator[Any]:
    provider = load_oidc_provider().LocalOidcProvider()
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def stack(stacks: Callable[..., Stack], oidc: Any) -> Iterator[Stack]:
    """Identity, catalog and search; the gateways in front of them take identity's JWKS."""
    everyone = "10000/minute"
    identity_env = {
        "EMPORIUM_IDENTITY_KEY_ENCRYPTION_KEYS": KEY_ENCRYPTION_KEY,
        "EMPORIUM_IDENTITY_KEY_ACTIVATION_DELAY_S": str(KEY_ACTIVATION_DELAY_S),
        "EMPORIUM_IDENTITY_KEY_CACHE_S": "0.5",
        "EMPORIUM_IDENTITY_LOGIN_LIMIT_PER_ADDRESS": everyone,
        "EMPORIUM_IDENTITY_REGISTER_LIMIT_PER_ADDRESS": everyone,
        "EMPORIUM_IDENTITY_REFRESH_LIMIT_PER_ADDRESS": everyone,
        "EMPORIUM_IDENTITY_LOCKOUT_THRESHOLD": str(LOCKOUT_THRESHOLD),
        "EMPORIUM_IDENTITY_LOCKOUT_BASE_S": "30",
        "EMPORIUM_IDENTITY_OAUTH_PROVIDERS": json.dumps(
            {
                "local": {
                    "issuer": oidc.issuer,
                    "client_id": oidc.client_id,
                    "client_secret": oidc.client_secret,
                }
            }
        ),
    }
    gateway_env = {"EMPORIUM_JWKS_REFRESH_MS": str(GATEWAY_JWKS_REFRESH_MS)}
    with stacks("workflow", gateway_env=gateway_env) as stack:
        identity = stack.start("identity", env=identity_env)
        oidc.redirect_uris.add(f"{identity.url}/oauth/local/callback")
        stack.start(
            "catalog", env={"EMPORIUM_JWKS_REFETCH_MIN_INTERVAL_S": str(CATALOG_JWKS_REFETCH_S)}
        )
        stack.start("search")
        yield stack


@pytest.fixture(scope="session")
def identity(stack: Stack) -> ServiceProcess:
    return stack["identity"]


@pytest.fixture(scope="session")
def catalog(stack: Stack) -> ServiceProcess:
    return stack["catalog"]


@pytest.fixture(scope="session")
def jwks_url(stack: Stack) -> str:
    assert stack.jwks_url is not None
    return stack.jwks_url


@pytest.fixture(scope="session")
def identity_database(stack: Stack) -> str:
    return stack.database("identity")


@pytest.fixture(scope="session")
def logs(stack: Stack) -> Path:
    """Where every process of the suite writes its log."""
    return stack.log_dir


@pytest.fixture(scope="session")
def gateway(stack: Stack) -> GraphQLClient:
    """The gateway as `emporium-platform up` runs it: development mode, the committed
    supergraph and persisted operations, default limits."""
    return stack.gateway("gateway-workflow")


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
def admin(gateway: GraphQLClient, admin_credentials: tuple[str, str]) -> Account:
    """A fresh admin session (signed with identity's current key)."""
    return login(gateway, *admin_credentials)


@dataclass(frozen=True)
class CatalogSeed:
    category_id: str
    seller_id: str


@pytest.fixture(scope="session")
def catalog_seed(
    gateway: GraphQLClient, admin_credentials: tuple[str, str], run_id: str
) -> CatalogSeed:
    """A category and a seller, created through the gateway by the admin."""
    token = login(gateway, *admin_credentials).access_token
    category = data(
        gateway.post(
            "mutation($n: String!) { createCategory(input: {name: $n}) { id } }",
            {"n": f"Workflow {run_id}"},
            token=token,
        )
    )["createCategory"]
    seller = data(
        gateway.post(
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
def catalog_db(mongo: MongoClient[dict[str, Any]], stack: Stack) -> Database[Any]:
    """Catalog's database, read directly to check what was (not) written."""
    return mongo[stack.database("catalog")]
