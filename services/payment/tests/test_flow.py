"""The payment service's saga steps, as a real process: the order's events on NATS drive
Stripe calls (stripe-mock), the relayed webhooks come back signed to the service's endpoint,
and the payment's events leave through its outbox."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import nats
import orjson
import pytest
from emporium_kit.events import EventCatalog, EventPublisher, EventSpec
from emporium_kit.testing import TokenMinter
from emporium_payment import webhooks
from emporium_platform.harness import Stack
from nats.js import JetStreamContext
from pydantic import BaseModel
from ulid import ULID

from .conftest import WEBHOOK_SECRET

pytestmark = pytest.mark.integration


class Total(BaseModel):
    amount: int
    currency: str


class Created(BaseModel):
    order_id: str
    user_id: str
    total: Total
    payment_method: str


class OrderRef(BaseModel):
    order_id: str
    reason: str | None = None


order_events = EventCatalog("order")
OrderCreated = order_events.publishes(EventSpec("order", "OrderCreated", Created))
OrderReserved = order_events.publishes(EventSpec("order", "OrderReserved", OrderRef))
OrderCancelled = order_events.publishes(EventSpec("order", "OrderCancelled", OrderRef))


async def place(js: JetStreamContext, *, method: str = "pm_card_visa", amount: int = 2599) -> str:
    order = f"order-{ULID()}"
    created = Created(
        order_id=order,
        user_id="user-1",
        total=Total(amount=amount, currency="EUR"),
        payment_method=method,
    )
    await EventPublisher(js).publish(order_events.new(OrderCreated, created, aggregate_id=order))
    return order


async def step(js: JetStreamContext, spec: Any, order: str) -> None:
    await EventPublisher(js).publish(
        order_events.new(spec, OrderRef(order_id=order), aggregate_id=order)
    )


async def status_of(payments: Any, order: str, expected: str, *, within_s: float = 60) -> dict:
    deadline = time.monotonic() + within_s
    while True:
        doc = await payments.find_one({"_id": order})
        if doc and doc["status"] == expected:
            return doc
        assert time.monotonic() < deadline, doc
        await asyncio.sleep(0.1)


async def published(js: JetStreamContext, order: str, count: int) -> list[str]:
    """The types of the payment events about ``order`` on the stream, once there are
    ``count`` (waits for the outbox)."""
    deadline = time.monotonic() + 60
    while True:
        sub = await js.subscribe("emporium.payment.>", ordered_consumer=True)
        found: list[str] = []
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=1)
                except nats.errors.TimeoutError:
                    break
                event = orjson.loads(msg.data)
                if event["aggregate_id"] == order:
                    found.append(event["type"])
        finally:
            await sub.unsubscribe()
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


async def test_authorise_then_capture_then_refund(
    stack: Stack, js: JetStreamContext, payments: Any
) -> None:
    order = await place(js)
    authorised = await status_of(payments, order, "AUTHORISED")
    assert authorised["intent_id"].startswith("pi_")
    assert authorised["amount"] == {"amount": 2599, "currency": "EUR"}
    await step(js, OrderReserved, order)
    await status_of(payments, order, "CAPTURED")
    await step(js, OrderCancelled, order)
    await status_of(payments, order, "REFUNDED")
    assert await published(js, order, 4) == [
        "PaymentInitiated",
        "PaymentSucceeded",
        "PaymentCaptured",
        "PaymentRefunded",
    ]


async def test_a_declined_card_fails_and_a_cancelled_authorisation_is_voided(
    stack: Stack, js: JetStreamContext, payments: Any
) -> None:
    declined = await place(js, method="pm_card_chargeDeclined")
    failed = await status_of(payments, declined, "FAILED")
    assert failed["failure"] == "generic_decline"
    kept = await place(js)
    await status_of(payments, kept, "AUTHORISED")
    await step(js, OrderCancelled, kept)
    await status_of(payments, kept, "VOIDED")
    await step(js, OrderReserved, kept)  # too late: never captured
    assert await published(js, declined, 2) == ["PaymentInitiated", "PaymentFailed"]
    assert await published(js, kept, 3) == ["PaymentInitiated", "PaymentSucceeded", "PaymentVoided"]
    assert (await payments.find_one({"_id": kept}))["status"] == "VOIDED"


def post_webhook(
    stack: Stack, event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, at: int | None = None
) -> httpx.Response:
    payload = json.dumps(event).encode()
    header = webhooks.signature(payload, secret, at or int(time.time()))
    return httpx.post(
        f"{stack['payment'].url}/webhooks/stripe",
        content=payload,
        headers={"Content-Type": "application/json", webhooks.SIGNATURE_HEADER: header},
        timeout=30,
    )


async def test_webhooks_are_verified_and_idempotent(
    stack: Stack, js: JetStreamContext, payments: Any
) -> None:
    order = await place(js)
    doc = await status_of(payments, order, "AUTHORISED")
    intent = {"id": doc["intent_id"], "object": "payment_intent", "metadata": {"order_id": order}}
    succeeded = webhooks.event_for("payment_intent.succeeded", {**intent, "status": "succeeded"})
    replies = [post_webhook(stack, succeeded) for _ in range(3)]
    assert [r.status_code for r in replies] == [200, 200, 200]
    assert [r.json()["applied"] for r in replies] == [True, True, True]
    captured = await status_of(payments, order, "CAPTURED")
    # an older event arriving late changes nothing
    late = webhooks.event_for(
        "payment_intent.amount_capturable_updated", {**intent, "status": "requires_capture"}
    )
    assert post_webhook(stack, late).status_code == 200
    again = await payments.find_one({"_id": order})
    assert (again["status"], again["version"]) == ("CAPTURED", captured["version"])
    assert await published(js, order, 3) == [
        "PaymentInitiated",
        "PaymentSucceeded",
        "PaymentCaptured",
    ]

    forged = post_webhook(stack, late, secret="whsec_forged")
    stale = post_webhook(stack, late, at=int(time.time()) - 600)
    assert (forged.status_code, stale.status_code) == (400, 400)
    assert "tolerance" in stale.json()["error"]


async def test_the_buyer_reads_the_payment(
    stack: Stack, js: JetStreamContext, payments: Any, minter: TokenMinter
) -> None:
    order = await place(js, amount=1500)
    await status_of(payments, order, "AUTHORISED")
    query = "query($id: ID!) { orderPayment(orderId: $id) { orderId status amount currency } }"

    def read(token: str) -> Any:
        reply = httpx.post(
            stack["payment"].graphql_url,
            json={"query": query, "variables": {"id": order}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        return reply.json()["data"]["orderPayment"]

    assert read(minter.mint("user-1", ["customer"])) == {
        "orderId": order,
        "status": "AUTHORISED",
        "amount": 1500,
        "currency": "EUR",
    }
    assert read(minter.mint("user-2", ["customer"])) is None
    assert read(minter.mint("admin-1", ["admin"]))["status"] == "AUTHORISED"
