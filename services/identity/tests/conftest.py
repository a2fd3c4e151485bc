"""Fixtures for the identity tests.

Integration tests run the real app (lifespan included: indexes, the first signing key, the
NATS stream, the outbox relay) against the platform's Redis, NATS and FerretDB, in a Mongo
database and a Redis namespace unique to the session, and talk to it over ASGI. The OAuth
tests use a local OpenID Connect provider on a loopback port (``oidc_provider.py``).

argon2id runs with small parameters here (t=1, m=1 MiB) so the suite stays fast; the
production parameters are measured by ``loadtests/bench_login.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import nats
import orjson
import pytest
from emporium_identity.app import create_app
from emporium_identity.core import Identity
from emporium_identity.settings import IdentitySettings, OAuthProvider
from emporium_kit.testing import serving
from fastapi import FastAPI
from nats.js.api import ConsumerConfig, DeliverPolicy
from ulid import ULID

from .oidc_provider import LocalOidcProvider

PASSWORD = "correct horse battery staple"
BASE_URL = "http://identity"
# the web shop allowed to use the browser-session routes (CORS, OAuth return_to)
SHOP_ORIGIN = "http://shop.test"


@pytest.fixture(scope="session")
def session_id() -> str:
    return str(ULID()).lower()


@pytest.fixture(scope="session")
def oidc() -> Iterator[LocalOidcProvider]:
    provider = LocalOidcProvider()
    provider.redirect_uris.add(f"{BASE_URL}/oauth/local/callback")
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def settings(platform: Any, session_id: str, oidc: LocalOidcProvider) -> IdentitySettings:
    return IdentitySettings(
        mongo_url=platform.mongo_url,
        mongo_database=f"identity_test_{session_id}",
        redis_url=platform.redis_url,
        nats_url=platform.nats_url,
        jwks_url=None,
        jwt_public_key=None,
        identity_public_url=BASE_URL,
        identity_redis_namespace=f"test-{session_id}",
        identity_argon2_time_cost=1,
        identity_argon2_memory_kib=1024,
        identity_hash_concurrency=4,
        identity_relay_poll_interval_s=1.0,
        # every ASGI request comes from 127.0.0.1: the per-address limits have their own test
        identity_login_limit_per_address="10000/minute",
        identity_register_limit_per_address="10000/minute",
        identity_refresh_limit_per_address="10000/minute",
        identity_reset_limit_per_address="10000/minute",
        identity_login_limit_per_account="6/minute",
        identity_lockout_threshold=3,
        identity_lockout_base_s=1.0,
        identity_session_origins=SHOP_ORIGIN,
        identity_oauth_providers={
            "local": OAuthProvider(
                issuer=oidc.issuer, client_id=oidc.client_id, client_secret=oidc.client_secret
            )
        },
    )


@pytest.fixture(scope="session")
async def app(settings: IdentitySettings) -> AsyncIterator[FastAPI]:
    async with serving(create_app(settings), settings) as application:
        yield application


@pytest.fixture(scope="session")
def identity(app: FastAPI) -> Identity:
    return app.state.identity


@pytest.fixture(scope="session")
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


def unique_email(label: str = "user") -> str:
    return f"{label}-{str(ULID()).lower()}@example.com"


@dataclass
class Gql:
    """POSTs to /graphql, optionally with a bearer token."""

    http: httpx.AsyncClient

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        response = await self.raw(query, variables, token=token)
        assert response.status_code in (200, 400), response.text
        return response.json()

    async def ok(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> Any:
        body = await self(query, variables, token=token)
        assert "errors" not in body, body
        return body["data"]

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        body = await self(query, variables, token=token)
        assert body.get("errors"), body
        return body["errors"][0]


@pytest.fixture(scope="session")
def gql(http: httpx.AsyncClient) -> Gql:
    return Gql(http)


AUTH_FIELDS = "accessToken refreshToken expiresIn tokenType user { id email roles sellerId }"
REGISTER = f"mutation($i: RegisterInput!) {{ register(input: $i) {{ {AUTH_FIELDS} }} }}"
LOGIN = f"mutation($i: LoginInput!) {{ login(input: $i) {{ {AUTH_FIELDS} }} }}"
REFRESH = f"mutation($t: String!) {{ refreshToken(refreshToken: $t) {{ {AUTH_FIELDS} }} }}"


async def register(gql: Gql, email: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
    data = await gql.ok(REGISTER, {"i": {"email": email or unique_email(), "password": password}})
    return data["register"]


async def login(gql: Gql, email: str, password: str = PASSWORD) -> dict[str, Any]:
    return (await gql.ok(LOGIN, {"i": {"email": email, "password": password}}))["login"]


async def make_admin(identity: Identity) -> dict[str, Any]:
    """An admin account (as `emporium-identity create-admin` makes one) and its tokens."""
    from emporium_identity.accounts import upsert_account
    from emporium_identity.domain import Role
    from emporium_identity.sessions import login
    from emporium_identity.tokens import ClientInfo

    user, _ = await upsert_account(
        identity=identity, email=unique_email("admin"), password=PASSWORD, roles=[Role.ADMIN]
    )
    result = await login(
        identity=identity, email=user.email, password=PASSWORD, client=ClientInfo("10.9.9.9")
    )
    return {"user": user, "accessToken": result.access_token, "refreshToken": result.refresh_token}


class EventTap:
    """Reads identity events from JetStream that were published after it was created."""

    def __init__(self, nats_url: str) -> None:
        self.nats_url = nats_url
        self.since = datetime.now(UTC)

    async def _read(
        self, event_type: str, aggregate_id: str, *, until_found: bool, quiet_s: float, max_s: float
    ) -> list[dict[str, Any]]:
        nc = await nats.connect(self.nats_url, connect_timeout=5, max_reconnect_attempts=0)
        found: list[dict[str, Any]] = []
        try:
            sub = await nc.jetstream().pull_subscribe(
                f"emporium.identity.{event_type}",
                stream="EMPORIUM_IDENTITY",
                config=ConsumerConfig(
                    deliver_policy=DeliverPolicy.BY_START_TIME,
                    opt_start_time=self.since.isoformat().replace("+00:00", "Z"),
                    inactive_threshold=30.0,
                ),
            )
            deadline = time.monotonic() + max_s
            while time.monotonic() < deadline:
                try:
                    messages = await sub.fetch(50, timeout=quiet_s)
                except (TimeoutError, nats.errors.TimeoutError):
                    if until_found:
                        continue
                    return found
                for message in messages:
                    await message.ack()
                    event = orjson.loads(message.data)
                    if event["aggregate_id"] == aggregate_id:
                        found.append(event)
                if until_found and found:
                    return found
            return found
        finally:
            await nc.close()

    async def wait_for(
        self, event_type: str, aggregate_id: str, *, timeout_s: float = 10.0
    ) -> dict[str, Any]:
        found = await self._read(
            event_type, aggregate_id, until_found=True, quiet_s=0.5, max_s=timeout_s
        )
        if not found:
            raise AssertionError(f"no {event_type} for {aggregate_id} within {timeout_s}s")
        return found[0]

    async def all(self, event_type: str, aggregate_id: str) -> list[dict[str, Any]]:
        """Every such event so far (reads until the stream has been quiet for a second)."""
        return await self._read(event_type, aggregate_id, until_found=False, quiet_s=1.0, max_s=20)


@pytest.fixture
def events(settings: IdentitySettings) -> EventTap:
    return EventTap(settings.nats_url)


async def eventually(check: Any, *, timeout_s: float = 5.0, interval_s: float = 0.05) -> Any:
    """Poll ``check()`` (sync or async) until it returns a truthy value or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval_s)
