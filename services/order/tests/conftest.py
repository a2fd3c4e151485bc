"""Fixtures for the order tests: the real app (its lifespan included: the NATS streams and
the outbox relay) on the test platform's NATS and FerretDB, in a Mongo database unique to the
session, reached through ``/graphql`` over ASGI with tokens the kit's ``TokenMinter`` signs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from emporium_kit.testing import GraphQLPost, TokenMinter, graphql_poster, serving
from emporium_order.app import create_app
from emporium_order.settings import OrderSettings
from emporium_order.store import OrderDb
from fastapi import FastAPI
from ulid import ULID


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter()


@pytest.fixture(scope="session")
def settings(platform: Any, minter: TokenMinter) -> OrderSettings:
    return OrderSettings(
        mongo_url=platform.mongo_url,
        mongo_database=f"order_test_{str(ULID()).lower()}",
        nats_url=platform.nats_url,
        jwt_public_key=minter.public_key_pem(),
        jwks_url=None,
        order_relay_poll_interval_s=1.0,
        order_consumer_name=f"order-t{str(ULID()).lower()}",
        order_consumer_deliver="new",
    )


# per module: the service stops with it, so its consumers never act on the events of the
# suites that run later in the session
@pytest.fixture(scope="module")
async def app(settings: OrderSettings) -> AsyncIterator[FastAPI]:
    async with serving(create_app(settings), settings) as application:
        yield application


# per module: the service stops with it, so its consumers never act on the events of the
# suites that run later in the session
@pytest.fixture(scope="module")
async def gql(app: FastAPI, minter: TokenMinter) -> AsyncIterator[GraphQLPost]:
    """POST a document to /graphql, as a signed-in customer unless ``token=None``."""
    async with graphql_poster(app, token=minter.mint(f"user-{ULID()}", ["customer"])) as post:
        yield post


@pytest.fixture
def db(app: FastAPI) -> OrderDb:
    """The running app's store (its writes wake the app's outbox relay)."""
    return app.state.db
