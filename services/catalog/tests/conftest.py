"""Fixtures for the catalog tests.

Integration tests run the real app (its lifespan included: indexes, NATS streams, the outbox
relay) against the platform's Redis, NATS and FerretDB, in a Mongo database and a Redis cache
namespace unique to the test session, and talk to it through ``/graphql`` over ASGI.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from emporium_catalog.app import create_app
from emporium_catalog.categories import create_category
from emporium_catalog.models import CategoryCreate, SellerCreate
from emporium_catalog.sellers import create_seller
from emporium_catalog.settings import CatalogSettings
from emporium_catalog.store import PRODUCTS, CatalogDb
from emporium_kit.auth import Principal
from emporium_kit.testing import TokenMinter, serving
from fastapi import FastAPI
from pymongo import monitoring
from ulid import ULID


class CommandLog(monitoring.CommandListener):
    """Records the Mongo commands sent to one database while ``recording``.

    Registered globally before any client exists, so the app's own client reports to it:
    observation of real traffic, not a stand-in for Mongo.
    """

    def __init__(self) -> None:
        self.database: str | None = None
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._recording = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self._recording and event.database_name == self.database:
            with self._lock:
                self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None

    def start(self) -> None:
        with self._lock:
            self.commands.clear()
            self._recording = True

    def stop(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            self._recording = False
            return list(self.commands)


COMMANDS = CommandLog()
monitoring.register(COMMANDS)


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter()


@pytest.fixture(scope="session")
def session_id() -> str:
    return str(ULID()).lower()


@pytest.fixture(scope="session")
def settings(platform: Any, minter: TokenMinter, session_id: str) -> CatalogSettings:
    return CatalogSettings(
        mongo_url=platform.mongo_url,
        mongo_database=f"catalog_test_{session_id}",
        redis_url=platform.redis_url,
        nats_url=platform.nats_url,
        jwt_public_key=minter.public_key_pem(),
        jwks_url=None,
        catalog_cache_namespace=f"test-{session_id}",
        catalog_relay_poll_interval_s=5.0,
        catalog_relay_settle_s=0.5,
        # the stock consumer reads only what this session publishes
        catalog_stock_consumer_name=f"catalog-stock-{session_id}",
        catalog_stock_consumer_deliver="new",
    )


@pytest.fixture(scope="session")
async def app(settings: CatalogSettings) -> AsyncIterator[FastAPI]:
    COMMANDS.database = settings.mongo_database
    async with serving(create_app(settings), settings) as application:
        yield application


@pytest.fixture(scope="session")
def store(app: FastAPI) -> CatalogDb:
    """The app's own store, for calling the use cases directly."""
    return app.state.catalog.db


@pytest.fixture(scope="session")
def db(store: CatalogDb) -> Any:
    """The raw database, for looking at what was written."""
    return store.raw


@pytest.fixture(scope="session")
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
        yield client


@dataclass
class Gql:
    """POSTs to /graphql with an optional bearer token."""

    http: httpx.AsyncClient
    minter: TokenMinter
    calls: list[str] = field(default_factory=list)

    def token(self, roles: list[str], seller_id: str | None = None) -> str:
        return self.minter.mint(f"user-{ULID()}", roles, seller_id=seller_id)

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        roles: list[str] | None = None,
        seller_id: str | None = None,
    ) -> dict[str, Any]:
        headers = {}
        if roles is not None:
            headers["Authorization"] = f"Bearer {self.token(roles, seller_id)}"
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        return response.json()

    async def ok(self, query: str, variables: dict[str, Any] | None = None, **auth: Any) -> Any:
        body = await self(query, variables, **auth)
        assert "errors" not in body, body
        return body["data"]

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, **auth: Any
    ) -> dict[str, Any]:
        body = await self(query, variables, **auth)
        assert body.get("errors"), body
        return body["errors"][0]


@pytest.fixture(scope="session")
def gql(http: httpx.AsyncClient, minter: TokenMinter) -> Gql:
    return Gql(http, minter)


ADMIN = Principal(subject="test-admin", roles=frozenset({"admin"}))


@dataclass(frozen=True)
class World:
    """A small tree and two sellers shared by the integration tests."""

    root: str
    child: str
    leaf: str
    other_root: str
    seller_a: str
    seller_b: str


@pytest.fixture(scope="session")
async def world(store: CatalogDb, session_id: str) -> World:
    tag = session_id[-6:]
    root = await create_category(db=store, data=CategoryCreate(name=f"Electronics {tag}"))
    child = await create_category(
        db=store, data=CategoryCreate(name=f"Phones {tag}", parent_id=root.id)
    )
    leaf = await create_category(
        db=store, data=CategoryCreate(name=f"Smartphones {tag}", parent_id=child.id)
    )
    other = await create_category(db=store, data=CategoryCreate(name=f"Garden {tag}"))
    seller_a = await create_seller(db=store, data=SellerCreate(name=f"Seller A {tag}"))
    seller_b = await create_seller(db=store, data=SellerCreate(name=f"Seller B {tag}"))
    return World(root.id, child.id, leaf.id, other.id, seller_a.id, seller_b.id)


@pytest.fixture
def admin() -> Principal:
    return ADMIN


@pytest.fixture
def commands() -> Iterator[CommandLog]:
    yield COMMANDS
    COMMANDS.stop()


PUBLISH_DEADLINE_S = 15.0


async def wait_until_published(db: Any, product_id: str) -> None:
    """Wait (bounded) until the product's outbox is empty: the relay published and removed
    every entry."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PUBLISH_DEADLINE_S
    while True:
        doc = await db[PRODUCTS].find_one({"_id": product_id}, {"outbox": 1})
        if not doc.get("outbox"):
            return
        if loop.time() > deadline:
            pending = doc["outbox"]
            raise AssertionError(f"outbox still pending after {PUBLISH_DEADLINE_S}s: {pending}")
        await asyncio.sleep(0.05)
