"""Fixtures for the inventory tests: the real app (its lifespan included: the NATS streams and
the outbox relay) on the test platform's NATS and FerretDB, in a Mongo database unique to the
session, reached through ``/graphql`` over ASGI with tokens the kit's ``TokenMinter`` signs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from emporium_inventory.app import create_app
from emporium_inventory.settings import InventorySettings
from emporium_inventory.store import InventoryDb
from emporium_kit.testing import TokenMinter
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from ulid import ULID


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter()


@pytest.fixture(scope="session")
def settings(platform: Any, minter: TokenMinter) -> InventorySettings:
    return InventorySettings(
        mongo_url=platform.mongo_url,
        mongo_database=f"inventory_test_{str(ULID()).lower()}",
        nats_url=platform.nats_url,
        jwt_public_key=minter.public_key_pem(),
        jwks_url=None,
        inventory_relay_poll_interval_s=1.0,
        inventory_consumer_name=f"inventory-t{str(ULID()).lower()}",
        inventory_consumer_deliver="new",
        inventory_demo_stock=True,
        inventory_sweep_interval_s=0.5,
        # the rush of the contention test keeps reservations pending for long on a busy machine
        inventory_pending_timeout_s=600.0,
    )


# per module: the service stops with it, so its consumers never act on the events of the
# suites that run later in the session
@pytest.fixture(scope="module")
async def app(settings: InventorySettings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=120):
        await asyncio.wait_for(application.state.outbox.ready.wait(), timeout=60)
        yield application
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    try:
        await client.drop_database(str(settings.mongo_database))
    finally:
        await client.close()


# per module: the service stops with it, so its consumers never act on the events of the
# suites that run later in the session
@pytest.fixture(scope="module")
async def gql(app: FastAPI, minter: TokenMinter) -> AsyncIterator[Any]:
    """POST a document to /graphql, as seller ``seller-1`` unless ``token`` says otherwise."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inventory") as client:
        seller = minter.mint(f"user-{ULID()}", ["seller"], seller_id="seller-1")

        async def post(
            query: str, variables: dict[str, Any] | None = None, token: str | None = seller
        ) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
            assert response.status_code in (200, 400), response.text
            return response.json()

        yield post


@pytest.fixture(scope="session")
async def raw_db(settings: InventorySettings) -> AsyncIterator[Any]:
    """The service's database without guards, for looking at what was written."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    yield client[str(settings.mongo_database)]
    await client.close()


@pytest.fixture
def db(app: FastAPI) -> InventoryDb:
    """The running app's store (its writes wake the app's outbox relay)."""
    return app.state.db
