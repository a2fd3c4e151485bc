"""Every event the inventory service publishes and consumes, and the handler of each consumed
event, in one place.

Published on ``emporium.inventory.<Type>`` (stream ``EMPORIUM_INVENTORY``), always from the
outbox of the document whose write they describe: ``StockLevelChanged`` from a SKU's stock
document, the reservation events from the reservation's. Payloads are integration events built
from the stored document, with the aggregate's ``version`` so a consumer can drop stale ones.

Consumed (durable consumer ``inventory``): the catalog's product events, to learn each seller
offer's SKU and owner; the order's ``OrderAuthorised`` (reserve), ``OrderConfirmed`` (commit)
and ``OrderCancelled`` (release) — the saga's steps (docs/checkout.md). Each handler is one
call of a use case in :mod:`emporium_inventory.stock`, idempotent by the reservation's state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from emporium_kit.events.envelope import Event, EventCatalog, EventSpec
from pydantic import BaseModel, ConfigDict

from emporium_inventory import stock
from emporium_inventory.models import ReservationLine, ReserveRequest
from emporium_inventory.store import InventoryDb

DOMAIN = "inventory"

events = EventCatalog("inventory")


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


class StockLevelData(_Payload):
    """A SKU's stock after the change (v1 of ``StockLevelChanged``)."""

    sku: str
    product_id: str | None
    seller_id: str | None
    on_hand: int
    reserved: int
    available: int
    in_stock: bool
    version: int
    cause: str
    changed_at: datetime

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], cause: str) -> StockLevelData:
        available = doc["on_hand"] - doc["reserved"]
        return cls(
            sku=doc["_id"],
            product_id=doc.get("product_id"),
            seller_id=doc.get("seller_id"),
            on_hand=doc["on_hand"],
            reserved=doc["reserved"],
            available=available,
            in_stock=available > 0,
            version=doc["version"],
            cause=cause,
            changed_at=doc["updated_at"],
        )


class LineData(_Payload):
    sku: str
    quantity: int


class ReservationData(_Payload):
    """A reservation after the change (v1 of ``InventoryReserved``, ``InventoryCommitted``,
    ``InventoryReleased`` and ``InventoryReservationFailed``). ``reservation_id`` is the
    order's id; ``reason`` says why it failed or was released (``OUT_OF_STOCK``,
    ``UNKNOWN_SKU``, ``CANCELLED``, ``EXPIRED``, ``TIMEOUT``) and ``sku`` which line could not
    be held."""

    reservation_id: str
    order_id: str
    status: str
    lines: list[LineData]
    reason: str | None
    sku: str | None
    expires_at: datetime | None
    version: int
    changed_at: datetime

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ReservationData:
        return cls(
            reservation_id=doc["_id"],
            order_id=doc["_id"],
            status=doc["status"],
            lines=[LineData(**line) for line in doc["lines"]],
            reason=doc.get("reason"),
            sku=doc.get("sku"),
            expires_at=doc.get("expires_at"),
            version=doc["version"],
            changed_at=doc["updated_at"],
        )


StockLevelChanged = events.publishes(
    EventSpec(DOMAIN, "StockLevelChanged", StockLevelData, version=1)
)
InventoryReserved = events.publishes(
    EventSpec(DOMAIN, "InventoryReserved", ReservationData, version=1)
)
InventoryReservationFailed = events.publishes(
    EventSpec(DOMAIN, "InventoryReservationFailed", ReservationData, version=1)
)
InventoryCommitted = events.publishes(
    EventSpec(DOMAIN, "InventoryCommitted", ReservationData, version=1)
)
InventoryReleased = events.publishes(
    EventSpec(DOMAIN, "InventoryReleased", ReservationData, version=1)
)
InventoryReturned = events.publishes(
    EventSpec(DOMAIN, "InventoryReturned", ReservationData, version=1)
)

RESERVATION_EVENTS = {
    "HELD": InventoryReserved,
    "FAILED": InventoryReservationFailed,
    "COMMITTED": InventoryCommitted,
    "RELEASED": InventoryReleased,
    "RETURNED": InventoryReturned,
}


def stock_level_changed(doc: Mapping[str, Any], cause: str) -> Event[StockLevelData]:
    """``doc``: the SKU's stock as stored after the change."""
    return events.new(
        StockLevelChanged, StockLevelData.from_doc(doc, cause), aggregate_id=doc["_id"]
    )


def reservation_changed(doc: Mapping[str, Any]) -> Event[ReservationData]:
    """The event of the reservation's new status, ``doc`` as stored after the change."""
    spec = RESERVATION_EVENTS[doc["status"]]
    return events.new(spec, ReservationData.from_doc(doc), aggregate_id=doc["_id"])


# -- consumed: tolerant readers of what the inventory needs -------------------------------


class ListingView(BaseModel):
    seller_id: str
    sku: str


class ProductView(BaseModel):
    id: str
    sku: str
    owner_seller_id: str | None = None
    listings: list[ListingView] = []
    version: int


class OrderLineView(BaseModel):
    sku: str
    quantity: int


class OrderAuthorisedView(BaseModel):
    order_id: str
    lines: list[OrderLineView]


class OrderView(BaseModel):
    order_id: str
    reason: str | None = None


CATALOG = "catalog"
ORDER = "order"
ProductCreated = events.consumes(EventSpec(CATALOG, "ProductCreated", ProductView))
ProductUpdated = events.consumes(EventSpec(CATALOG, "ProductUpdated", ProductView))
OrderAuthorised = events.consumes(EventSpec(ORDER, "OrderAuthorised", OrderAuthorisedView))
OrderConfirmed = events.consumes(EventSpec(ORDER, "OrderConfirmed", OrderView))
OrderCancelled = events.consumes(EventSpec(ORDER, "OrderCancelled", OrderView))


# -- handlers: translate an event into one use case ---------------------------------------


async def on_product(db: InventoryDb, demo_stock: bool, event: Event[ProductView]) -> object:
    product = event.data
    # the owner's own offer (the product's SKU) and every seller listing
    offers = [(listing.sku, listing.seller_id) for listing in product.listings]
    if product.owner_seller_id is not None:
        offers.insert(0, (product.sku, product.owner_seller_id))
    return await stock.register_skus(
        db=db, product_id=product.id, offers=offers, demo_stock=demo_stock
    )


async def on_order_authorised(
    db: InventoryDb, hold_ttl_s: float, event: Event[OrderAuthorisedView]
) -> object:
    request = ReserveRequest(
        reservation_id=event.data.order_id,
        lines=[ReservationLine(sku=line.sku, quantity=line.quantity) for line in event.data.lines],
    )
    return await stock.reserve(db=db, request=request, hold_ttl_s=hold_ttl_s)


async def on_order_confirmed(db: InventoryDb, event: Event[OrderView]) -> object:
    return await stock.commit(db=db, reservation_id=event.data.order_id)


async def on_order_cancelled(db: InventoryDb, event: Event[OrderView]) -> object:
    return await stock.release(db=db, reservation_id=event.data.order_id, reason="CANCELLED")


Handler = Callable[[Event[Any]], Awaitable[object]]


def handlers(db: InventoryDb, *, hold_ttl_s: float, demo_stock: bool) -> dict[Any, Handler]:
    """The consumer's one mapping: each consumed event to its use case."""
    return {
        ProductCreated: partial(on_product, db, demo_stock),
        ProductUpdated: partial(on_product, db, demo_stock),
        OrderAuthorised: partial(on_order_authorised, db, hold_ttl_s),
        OrderConfirmed: partial(on_order_confirmed, db),
        OrderCancelled: partial(on_order_cancelled, db),
    }
