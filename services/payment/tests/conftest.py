"""Fixtures for the payment tests: the payment service as a real process (the test harness's
``stacks``, started from its registry table exactly as the platform runs it) on the test
platform's NATS, FerretDB and stripe-mock, relaying Stripe's signed webhooks to its own
endpoint; tokens from the kit's ``TokenMinter`` served as a JWKS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import nats
import pytest
from emporium_kit.testing import JwksServer, TokenMinter
from emporium_platform.harness import Stack
from nats.js import JetStreamContext
from pymongo import AsyncMongoClient

WEBHOOK_SECRET = "whsec_test_payment"


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter()


# per module: the service stops with it, so its consumers never act on the events of the
# suites that run later in the session
@pytest.fixture(scope="module")
def stack(stacks: Callable[..., Stack], minter: TokenMinter) -> Iterator[Stack]:
    with (
        JwksServer(minter) as jwks,
        stacks(
            "payment",
            jwks_url=jwks.url,
            env={"EMPORIUM_PAYMENT_WEBHOOK_SECRET": WEBHOOK_SECRET},
        ) as stack,
    ):
        stack.start("payment")
        yield stack


@pytest.fixture
async def js(platform: Any) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(platform.nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


@pytest.fixture
async def payments(stack: Stack, platform: Any) -> AsyncIterator[Any]:
    """The payment service's payments collection, for looking at what was written."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.mongo_url)
    yield client[stack.database("payment")]["payments"]
    await client.close()
