"""Every event the order service publishes and consumes, and the handler of each consumed
event, in one place.

The order is the checkout saga's record (docs/checkout.md): each consumed payment or
inventory event moves the order's state machine, and the move publishes the next step as an
order event in the same document write. Published on ``emporium.order.<Type>``:
``OrderCreated`` (payment authorises), ``OrderAuthorised`` (inventory reserves),
``OrderReserved`` (payment captures), ``OrderConfirmed`` (inventory commits, the ordered
units leave the cart, the buyer is told), ``OrderCancelled`` (payment voids or refunds,
inventory releases, the cart gives the coupons back), ``OrderShipped``, ``OrderDelivered``,
``OrderRefunded``, ``OrderPaymentFailed``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from emporium_kit.events.envelope import Event, EventCatalog, EventSpec
from pydantic import BaseModel, ConfigDict

from emporium_order import orders
from emporium_order.models import OrderStatus, item_name
from emporium_order.store import OrderDb

DOMAIN = "order"

events = EventCatalog("order")


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


class TotalData(_Payload):
    amount: int
    currency: str


class LineData(_Payload):
    order_item_id: str
    product_id: str
    # the product's name when the order was placed
    name: str
    sku: str
    seller_id: str
    quantity: int
    unit_amount: int


class OrderData(_Payload):
    """The order after the change (v1 of every order event): who, what, how much, where it
    stands and why."""

    order_id: str
    user_id: str
    # the order's contact address (None: the buyer's registered one)
    email: str | None
    status: str
    total: TotalData
    lines: list[LineData]
    payment_method: str
    # the coupon codes redeemed for the order (the cart gives them back when it fails)
    coupons: list[str] = []
    reason: str | None
    # whether money was captured (a cancellation then refunds instead of voiding)
    captured: bool
    version: int
    changed_at: datetime

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> OrderData:
        statuses = {change["status"] for change in doc["status_history"]}
        return cls(
            order_id=doc["_id"],
            user_id=doc["user_id"],
            email=doc.get("email"),
            status=doc["status"],
            total=TotalData(amount=doc["total_amount"], currency=doc["currency"]),
            lines=[
                LineData(
                    order_item_id=item["order_item_id"],
                    product_id=item["product_id"],
                    name=item_name(item),
                    sku=item["sku"],
                    seller_id=item["seller_id"],
                    quantity=item["quantity"],
                    unit_amount=item["price_at_purchase"]["amount"],
                )
                for item in doc["items"]
            ],
            payment_method=doc["payment_method"],
            coupons=doc.get("coupons", []),
            reason=doc.get("cancel_reason"),
            captured=OrderStatus.CONFIRMED in statuses,
            version=doc["version"],
            changed_at=doc["updated_at"],
        )


def _spec(name: str) -> EventSpec[OrderData]:
    return events.publishes(EventSpec(DOMAIN, name, OrderData, version=1))


OrderCreated = _spec("OrderCreated")
STATUS_EVENTS: dict[OrderStatus, EventSpec[OrderData]] = {
    OrderStatus.AUTHORISED: _spec("OrderAuthorised"),
    OrderStatus.RESERVED: _spec("OrderReserved"),
    OrderStatus.CONFIRMED: _spec("OrderConfirmed"),
    OrderStatus.CANCELLED: _spec("OrderCancelled"),
    OrderStatus.SHIPPED: _spec("OrderShipped"),
    OrderStatus.DELIVERED: _spec("OrderDelivered"),
    OrderStatus.REFUNDED: _spec("OrderRefunded"),
    OrderStatus.PAYMENT_FAILED: _spec("OrderPaymentFailed"),
}


def order_created(doc: Mapping[str, Any]) -> Event[OrderData]:
    return events.new(OrderCreated, OrderData.from_doc(doc), aggregate_id=doc["_id"])


def status_changed(doc: Mapping[str, Any]) -> list[Event[OrderData]]:
    """The event of the status ``doc`` reached (none for AWAITING_PAYMENT)."""
    spec = STATUS_EVENTS.get(OrderStatus(doc["status"]))
    if spec is None:
        return []
    return [events.new(spec, OrderData.from_doc(doc), aggregate_id=doc["_id"])]


# -- consumed: what the saga reacts to -----------------------------------------------------


class PaymentView(BaseModel):
    order_id: str
    failure: str | None = None


class ReservationView(BaseModel):
    order_id: str
    reason: str | None = None
    sku: str | None = None


PAYMENT, INVENTORY = "payment", "inventory"
PaymentInitiated = events.consumes(EventSpec(PAYMENT, "PaymentInitiated", PaymentView))
PaymentSucceeded = events.consumes(EventSpec(PAYMENT, "PaymentSucceeded", PaymentView))
PaymentFailed = events.consumes(EventSpec(PAYMENT, "PaymentFailed", PaymentView))
PaymentCaptured = events.consumes(EventSpec(PAYMENT, "PaymentCaptured", PaymentView))
PaymentRefunded = events.consumes(EventSpec(PAYMENT, "PaymentRefunded", PaymentView))
InventoryReserved = events.consumes(EventSpec(INVENTORY, "InventoryReserved", ReservationView))
InventoryReservationFailed = events.consumes(
    EventSpec(INVENTORY, "InventoryReservationFailed", ReservationView)
)
InventoryReleased = events.consumes(EventSpec(INVENTORY, "InventoryReleased", ReservationView))


def _move(to: OrderStatus, cause: str | Callable[[Any], str], reason: bool = False) -> Any:
    async def handle(db: OrderDb, event: Event[Any]) -> object:
        why = cause(event.data) if callable(cause) else cause
        return await orders.advance(
            db=db,
            order_id=event.data.order_id,
            to=to,
            cause=f"{event.type} {event.id}: {why}",
            reason=why if reason else None,
        )

    return handle


async def _released(db: OrderDb, event: Event[ReservationView]) -> object:
    # an expired hold under an order that still waits for its capture cancels it; a release
    # the order asked for (it is cancelled already) changes nothing
    if event.data.reason != "EXPIRED":
        return None
    return await orders.advance(
        db=db,
        order_id=event.data.order_id,
        to=OrderStatus.CANCELLED,
        cause=f"{event.type} {event.id}: the stock hold expired",
        reason="reservation_expired",
    )


Handler = Callable[[Event[Any]], Awaitable[object]]

HANDLERS: dict[EventSpec[Any], Callable[[OrderDb, Event[Any]], Awaitable[object]]] = {
    PaymentInitiated: _move(OrderStatus.AWAITING_PAYMENT, "payment initiated"),
    PaymentSucceeded: _move(OrderStatus.AUTHORISED, "payment authorised"),
    PaymentFailed: _move(
        OrderStatus.PAYMENT_FAILED, lambda d: d.failure or "payment_failed", reason=True
    ),
    PaymentCaptured: _move(OrderStatus.CONFIRMED, "payment captured"),
    PaymentRefunded: _move(OrderStatus.REFUNDED, "payment refunded"),
    InventoryReserved: _move(OrderStatus.RESERVED, "stock held"),
    InventoryReservationFailed: _move(
        OrderStatus.CANCELLED, lambda d: (d.reason or "out_of_stock").lower(), reason=True
    ),
    InventoryReleased: _released,
}


def handlers(db: OrderDb) -> dict[Any, Handler]:
    """The consumer's one mapping: each consumed event to one state-machine move."""
    return {spec: partial(handle, db) for spec, handle in HANDLERS.items()}
