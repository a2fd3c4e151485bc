"""Fixtures for the notification tests: the real app (its lifespan included: the NATS streams and
the outbox relay) on the test platform's NATS and FerretDB, in a Mongo database unique to the
session, reached through ``/graphql`` over ASGI with tokens the kit's ``TokenMinter`` signs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from emporium_kit.testing import GraphQLPost, TokenMinter, graphql_poster, serving
from emporium_notification.app import create_app
from emporium_notification.notifications import Notifier
from emporium_notification.settings import NotificationSettings
from fastapi import FastAPI
from ulid import ULID

SENDER = f"test-{str(ULID()).lower()}@emporium.local"


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter()


@pytest.fixture(scope="session")
def settings(platform: Any, minter: TokenMinter) -> NotificationSettings:
    return NotificationSettings(
        mongo_url=platform.mongo_url,
        mongo_database=f"notification_test_{str(ULID()).lower()}",
        nats_url=platform.nats_url,
        jwt_public_key=minter.public_key_pem(),
        jwks_url=None,
        notification_relay_poll_interval_s=1.0,
        smtp_url=platform.config.smtp_url,
        notification_consumer_name=f"notification-t{str(ULID()).lower()}",
        notification_consumer_deliver="new",
        # other suites' notification services read the same streams: this one's mails are
        # told apart by their sender
        notification_from_address=SENDER,
    )


# per module: the service stops with it, so its consumers never act on the events of the
# suites that run later in the session
@pytest.fixture(scope="module")
async def app(settings: NotificationSettings) -> AsyncIterator[FastAPI]:
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
def notifier(app: FastAPI) -> Notifier:
    return app.state.notifier


@pytest.fixture
async def mailpit(platform: Any) -> AsyncIterator[Any]:
    """Mailpit's HTTP API (the test platform's mail catcher)."""
    async with httpx.AsyncClient(base_url=platform.config.mailpit_url, timeout=10) as client:
        yield client
