"""Emails for the saga's and the account's events, into the test platform's Mailpit: one per
event, however often the event arrives."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosmtplib
import nats
import pytest
from emporium_kit.events import Event, EventCatalog, EventPublisher, EventSpec
from emporium_notification import events
from emporium_notification.emails import Mailer
from emporium_notification.notifications import Notifier, send_once
from fastapi import FastAPI
from nats.js import JetStreamContext
from pydantic import BaseModel
from ulid import ULID

from .conftest import SENDER

pytestmark = pytest.mark.integration


class Line(BaseModel):
    name: str | None = None
    sku: str
    quantity: int
    unit_amount: int


class Total(BaseModel):
    amount: int
    currency: str


class OrderData(BaseModel):
    order_id: str
    user_id: str
    email: str | None
    total: Total
    lines: list[Line]
    reason: str | None
    captured: bool


class Registered(BaseModel):
    user_id: str
    email: str


class Token(BaseModel):
    user_id: str
    email: str
    token: str
    expires_at: datetime


order_events = EventCatalog("order")
OrderConfirmed = order_events.publishes(EventSpec("order", "OrderConfirmed", OrderData))
OrderCancelled = order_events.publishes(EventSpec("order", "OrderCancelled", OrderData))
identity_events = EventCatalog("identity")
UserRegistered = identity_events.publishes(EventSpec("identity", "UserRegistered", Registered))
PasswordReset = identity_events.publishes(EventSpec("identity", "PasswordResetRequested", Token))


@pytest.fixture
async def js(app: FastAPI, platform: Any) -> AsyncIterator[JetStreamContext]:
    deadline = time.monotonic() + 60
    while not app.state.consumer.ready.is_set():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    nc = await nats.connect(platform.nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


def address() -> str:
    return f"buyer-{str(ULID()).lower()}@example.test"


def order(
    to: str | None,
    *,
    user: str = "user-1",
    reason: str | None = None,
    name: str | None = "Desk Lamp",
) -> OrderData:
    return OrderData(
        order_id=f"ord_{ULID()}",
        user_id=user,
        email=to,
        total=Total(amount=5000, currency="EUR"),
        lines=[Line(name=name, sku="LAMP-1", quantity=2, unit_amount=2500)],
        reason=reason,
        captured=False,
    )


async def mails_to(mailpit: Any, to: str, count: int = 1, *, within_s: float = 30) -> list[dict]:
    """The messages to ``to`` once there are ``count``, each with its text body."""
    deadline = time.monotonic() + within_s
    while True:
        query = f"to:{to} from:{SENDER}"
        found = (await mailpit.get("/api/v1/search", params={"query": query})).json()
        if found["messages_count"] >= count or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    return [(await mailpit.get(f"/api/v1/message/{m['ID']}")).json() for m in found["messages"]]


async def test_an_order_confirmation_is_sent_once(
    js: JetStreamContext, notifier: Notifier, mailpit: Any
) -> None:
    to = address()
    confirmed = order_events.new(OrderConfirmed, order(to), aggregate_id="o")
    await EventPublisher(js).publish(confirmed)
    [mail] = await mails_to(mailpit, to)
    assert mail["Subject"] == "Your order is confirmed"
    assert "2 x Desk Lamp  50.00 EUR" in mail["Text"]
    assert "2 \N{MULTIPLICATION SIGN} Desk Lamp" in mail["HTML"]
    assert "<strong>50.00 EUR</strong>" in mail["HTML"]
    assert mail["MessageID"] == f"{confirmed.id}@emporium.local"

    # the same event again (a redelivery): nothing more is sent
    handle = events.handlers(notifier)[events.OrderConfirmed]
    view = Event[events.OrderView].model_validate_json(confirmed.to_json())
    await handle(view)
    stored = await notifier.db.notifications.get(confirmed.id)
    assert stored["status"] == "SENT"
    await asyncio.sleep(1)  # a second message would have arrived by now
    assert len(await mails_to(mailpit, to, within_s=0)) == 1


async def test_a_line_without_a_name_shows_its_sku(
    js: JetStreamContext, notifier: Notifier, mailpit: Any
) -> None:
    to = address()
    await EventPublisher(js).publish(
        order_events.new(OrderConfirmed, order(to, name=None), aggregate_id="o")
    )
    [mail] = await mails_to(mailpit, to)
    assert "2 x LAMP-1  50.00 EUR" in mail["Text"]


async def test_the_registered_address_is_used_when_the_order_has_none(
    js: JetStreamContext, notifier: Notifier, mailpit: Any
) -> None:
    to, user = address(), f"user-{ULID()}"
    publish = EventPublisher(js).publish
    await publish(
        identity_events.new(UserRegistered, Registered(user_id=user, email=to), aggregate_id=user)
    )
    # the registration and the order come on different streams: the order's event must find
    # the address already learnt
    deadline = time.monotonic() + 30
    while await notifier.db.contacts.get(user) is None:
        assert time.monotonic() < deadline, "the registration was not learnt"
        await asyncio.sleep(0.1)
    cancelled = order(None, user=user, reason="out_of_stock")
    await publish(order_events.new(OrderCancelled, cancelled, aggregate_id="o"))
    [mail] = await mails_to(mailpit, to)
    assert mail["Subject"] == "Your order was cancelled"
    assert "(out of stock)" in mail["Text"]
    assert "You were not charged." in mail["Text"]


async def test_a_password_reset_carries_its_link(js: JetStreamContext, mailpit: Any) -> None:
    to = address()
    token = Token(
        user_id="user-9",
        email=to,
        token="tok-123",
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
    )
    await EventPublisher(js).publish(identity_events.new(PasswordReset, token, aggregate_id="u"))
    [mail] = await mails_to(mailpit, to)
    assert "http://127.0.0.1:5173/reset-password?token=tok-123" in mail["Text"]


async def test_an_unreachable_relay_leaves_it_to_be_sent_later_once(
    notifier: Notifier, mailpit: Any, platform: Any
) -> None:
    closed = Mailer("smtp://127.0.0.1:9", sender=SENDER, timeout_s=1, attempts=2)
    down = Notifier(notifier.db, closed, notifier.renderer, notifier.storefront_url)
    to = address()
    event_id = str(ULID())
    context = {
        "order_id": "o1",
        "lines": [],
        "total": 100,
        "currency": "EUR",
        "reason_text": "x",
        "captured": False,
    }
    arguments = {
        "event_id": event_id,
        "kind": "order_confirmed",
        "user_id": "u",
        "to": to,
        "subject_id": "o1",
        "context": context,
    }
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await notifications_send(down, arguments)
    assert (await notifier.db.notifications.get(event_id))["status"] == "SENDING"
    sent = await notifications_send(notifier, arguments)
    assert sent["status"] == "SENT"
    await notifications_send(notifier, arguments)
    assert len(await mails_to(mailpit, to)) == 1


async def notifications_send(notifier: Notifier, arguments: dict[str, Any]) -> dict[str, Any]:
    return await send_once(notifier, **arguments)
