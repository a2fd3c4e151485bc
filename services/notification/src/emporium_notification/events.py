"""Every event the notification service publishes and consumes, and the handler of each
consumed event, in one place.

Consumed (durable consumer ``notification``): the order's ``OrderConfirmed``,
``OrderCancelled``, ``OrderPaymentFailed`` and ``OrderRefunded`` (the order's record of the
payment's failure and refund: it carries what the email says — lines, total, the contact
address), and identity's ``UserRegistered`` (the address a buyer registered with),
``EmailVerificationRequested`` and ``PasswordResetRequested``. Published:
``EmailNotificationSent`` once the SMTP server accepted the email.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from emporium_kit.events.envelope import Event, EventCatalog, EventSpec
from pydantic import BaseModel, ConfigDict

from emporium_notification import notifications

DOMAIN = "notification"

events = EventCatalog("notification")


class EmailSentData(BaseModel):
    """v1 of ``EmailNotificationSent``: which event's email went where."""

    model_config = ConfigDict(frozen=True)

    notification_id: str
    event_id: str
    kind: str
    user_id: str
    subject_id: str
    sent_at: datetime

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> EmailSentData:
        return cls(
            notification_id=doc["_id"],
            event_id=doc["_id"],
            kind=doc["kind"],
            user_id=doc["user_id"],
            subject_id=doc["subject_id"],
            sent_at=doc["sent_at"],
        )


EmailNotificationSent = events.publishes(
    EventSpec(DOMAIN, "EmailNotificationSent", EmailSentData, version=1)
)


def email_sent(doc: Mapping[str, Any]) -> Event[EmailSentData]:
    return events.new(EmailNotificationSent, EmailSentData.from_doc(doc), aggregate_id=doc["_id"])


# -- consumed ------------------------------------------------------------------------------


class LineView(BaseModel):
    # absent from events of orders placed before orders kept names: the SKU stands in
    name: str | None = None
    sku: str
    quantity: int
    unit_amount: int


class TotalView(BaseModel):
    amount: int
    currency: str


class OrderView(BaseModel):
    order_id: str
    user_id: str
    email: str | None = None
    total: TotalView
    lines: list[LineView] = []
    reason: str | None = None
    captured: bool = False


class RegisteredView(BaseModel):
    user_id: str
    email: str


class TokenView(BaseModel):
    user_id: str
    email: str
    token: str
    expires_at: datetime


ORDER, IDENTITY = "order", "identity"
OrderConfirmed = events.consumes(EventSpec(ORDER, "OrderConfirmed", OrderView))
OrderCancelled = events.consumes(EventSpec(ORDER, "OrderCancelled", OrderView))
OrderPaymentFailed = events.consumes(EventSpec(ORDER, "OrderPaymentFailed", OrderView))
OrderRefunded = events.consumes(EventSpec(ORDER, "OrderRefunded", OrderView))
UserRegistered = events.consumes(EventSpec(IDENTITY, "UserRegistered", RegisteredView))
EmailVerificationRequested = events.consumes(
    EventSpec(IDENTITY, "EmailVerificationRequested", TokenView)
)
PasswordResetRequested = events.consumes(EventSpec(IDENTITY, "PasswordResetRequested", TokenView))


def _order_email(kind: str) -> Any:
    async def handle(notifier: notifications.Notifier, event: Event[OrderView]) -> object:
        order = event.data
        reason = (order.reason or "").replace("_", " ")
        return await notifications.send_once(
            notifier,
            event_id=event.id,
            kind=kind,
            user_id=order.user_id,
            to=await notifications.address_of(notifier, order.user_id, order.email),
            subject_id=order.order_id,
            context={
                "order_id": order.order_id,
                "lines": [line.model_dump() for line in order.lines],
                "total": order.total.amount,
                "currency": order.total.currency,
                "reason_text": reason or "no reason given",
                "captured": order.captured,
            },
        )

    return handle


def _token_email(kind: str, path: str) -> Any:
    async def handle(notifier: notifications.Notifier, event: Event[TokenView]) -> object:
        data = event.data
        return await notifications.send_once(
            notifier,
            event_id=event.id,
            kind=kind,
            user_id=data.user_id,
            to=data.email,
            subject_id=data.user_id,
            context={
                "link": f"{notifier.storefront_url}{path}?token={data.token}",
                "expires_at": data.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
            },
        )

    return handle


async def on_registered(notifier: notifications.Notifier, event: Event[RegisteredView]) -> object:
    await notifications.remember_contact(
        notifier, user_id=event.data.user_id, email=event.data.email
    )
    return None


HANDLERS: dict[EventSpec[Any], Callable[..., Awaitable[object]]] = {
    OrderConfirmed: _order_email("order_confirmed"),
    OrderCancelled: _order_email("order_cancelled"),
    OrderPaymentFailed: _order_email("payment_failed"),
    OrderRefunded: _order_email("payment_refunded"),
    UserRegistered: on_registered,
    EmailVerificationRequested: _token_email("email_verification", "/verify-email"),
    PasswordResetRequested: _token_email("password_reset", "/reset-password"),
}


def handlers(notifier: notifications.Notifier) -> dict[Any, Callable[[Event[Any]], Any]]:
    """The consumer's one mapping: each consumed event to one use case."""
    return {spec: partial(handle, notifier) for spec, handle in HANDLERS.items()}
