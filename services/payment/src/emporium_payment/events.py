"""Every event the payment service publishes and consumes, and the handler of each consumed
event, in one place.

Published on ``emporium.payment.<Type>`` from the payment document's outbox, one per status
the payment reaches: ``PaymentInitiated`` (the intent exists), ``PaymentSucceeded`` (authorised:
the funds are held), ``PaymentFailed``, ``PaymentCaptured``, ``PaymentVoided`` (the
authorisation was cancelled, nothing was taken) and ``PaymentRefunded``.

Consumed (durable consumer ``payment``): the order's ``OrderCreated`` (authorise),
``OrderReserved`` (capture: the stock is held) and ``OrderCancelled`` (void, or refund what
was captured) — docs/checkout.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from emporium_kit.events.envelope import Event, EventCatalog, EventSpec
from pydantic import BaseModel, ConfigDict

from emporium_payment import payments
from emporium_payment.models import PaymentStatus

DOMAIN = "payment"

events = EventCatalog("payment")


class MoneyData(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: int
    currency: str


class PaymentData(BaseModel):
    """The payment after the change (v1 of every payment event)."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    user_id: str
    status: str
    amount: MoneyData
    provider: str
    intent_id: str | None
    # why it failed (the provider's decline code)
    failure: str | None
    version: int
    changed_at: datetime

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> PaymentData:
        return cls(
            order_id=doc["_id"],
            user_id=doc["user_id"],
            status=doc["status"],
            amount=MoneyData(**doc["amount"]),
            provider=doc["provider"],
            intent_id=doc.get("intent_id"),
            failure=doc.get("failure"),
            version=doc["version"],
            changed_at=doc["updated_at"],
        )


def _spec(name: str) -> EventSpec[PaymentData]:
    return events.publishes(EventSpec(DOMAIN, name, PaymentData, version=1))


STATUS_EVENTS = {
    PaymentStatus.INITIATED: _spec("PaymentInitiated"),
    PaymentStatus.AUTHORISED: _spec("PaymentSucceeded"),
    PaymentStatus.FAILED: _spec("PaymentFailed"),
    PaymentStatus.CAPTURED: _spec("PaymentCaptured"),
    PaymentStatus.VOIDED: _spec("PaymentVoided"),
    PaymentStatus.REFUNDED: _spec("PaymentRefunded"),
}


def payment_changed(doc: Mapping[str, Any]) -> Event[PaymentData]:
    """The event of the status ``doc`` (as stored after the change) reached."""
    spec = STATUS_EVENTS[PaymentStatus(doc["status"])]
    return events.new(spec, PaymentData.from_doc(doc), aggregate_id=doc["_id"])


# -- consumed ------------------------------------------------------------------------------


class TotalView(BaseModel):
    amount: int
    currency: str


class OrderCreatedView(BaseModel):
    order_id: str
    user_id: str
    total: TotalView
    # a provider's payment method reference (Stripe: pm_...); test cards locally
    payment_method: str = "pm_card_visa"


class OrderView(BaseModel):
    order_id: str
    reason: str | None = None


ORDER = "order"
OrderCreated = events.consumes(EventSpec(ORDER, "OrderCreated", OrderCreatedView))
OrderReserved = events.consumes(EventSpec(ORDER, "OrderReserved", OrderView))
OrderCancelled = events.consumes(EventSpec(ORDER, "OrderCancelled", OrderView))


async def on_order_created(service: Any, event: Event[OrderCreatedView]) -> object:
    data = event.data
    return await payments.initiate(
        service,
        order_id=data.order_id,
        user_id=data.user_id,
        amount=data.total.amount,
        currency=data.total.currency,
        payment_method=data.payment_method,
    )


async def on_order_reserved(service: Any, event: Event[OrderView]) -> object:
    return await payments.capture(service, order_id=event.data.order_id)


async def on_order_cancelled(service: Any, event: Event[OrderView]) -> object:
    return await payments.void_or_refund(service, order_id=event.data.order_id)


Handler = Callable[[Event[Any]], Awaitable[object]]


def handlers(service: Any) -> dict[Any, Handler]:
    """The consumer's one mapping: each consumed event to its use case."""
    return {
        OrderCreated: partial(on_order_created, service),
        OrderReserved: partial(on_order_reserved, service),
        OrderCancelled: partial(on_order_cancelled, service),
    }
