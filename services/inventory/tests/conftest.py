"""Fixtures for the inventory tests: the real app (its lifespan included: the NATS streams and
the outbox relay) on the test platform's NATS and FerretDB, in a Mongo database unique to the
session, reached through ``/graphql`` over ASGI with tokens the kit's ``TokenMinter`` signs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from emporium_inventory.app import create_app
from emporium_inventory.settings import InventorySettings
from emporium_inventory.store import InventoryDb
from emporium_kit.testing import GraphQLPost, TokenMinter, graphql_poster, serving
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
    async with serving(create_app(settings), settings, shutdown_timeout_s=120) as application:
        yield application


# per module: the service stops with it, so its consumers never act on the events of the
# suites that run later in the session
@pytest.fixture(scope="module")
async def gql(app: FastAPI, minter: TokenMinter) -> AsyncIterator[GraphQLPost]:
    """POST a document to /graphql, as seller ``seller-1`` unless ``token`` says otherwise."""
    async with graphql_poster(
        app, token=minter.mint(f"user-{ULID()}", ["seller"], seller_id="seller-1")
    ) as post:
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
