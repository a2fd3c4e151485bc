"""The inventory's saga steps driven by events on the test platform's NATS: the catalog's
product events register SKUs (with demo stock here), the order's ``OrderAuthorised`` reserves,
``OrderConfirmed`` commits and ``OrderCancelled`` releases, each answered by the inventory's
own events. The events published here are the order service's and the catalog's contracts as
the inventory reads them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import nats
import orjson
import pytest
from emporium_inventory import stock
from emporium_inventory.models import ReservationStatus
from emporium_inventory.store import InventoryDb
from emporium_kit.events import EventCatalog, EventPublisher, EventSpec
from fastapi import FastAPI
from nats.js import JetStreamContext
from pydantic import BaseModel
from ulid import ULID

from .helpers import eventually, new_sku

pytestmark = pytest.mark.integration


class Listing(BaseModel):
    seller_id: str
    sku: str


class Product(BaseModel):
    id: str
    sku: str
    owner_seller_id: str | None
    listings: list[Listing]
    version: int


class Line(BaseModel):
    sku: str
    quantity: int


class Authorised(BaseModel):
    order_id: str
    lines: list[Line]


class OrderRef(BaseModel):
    order_id: str
    reason: str | None = None


catalog_events = EventCatalog("catalog")
ProductCreated = catalog_events.publishes(EventSpec("catalog", "ProductCreated", Product))
order_events = EventCatalog("order")
OrderAuthorised = order_events.publishes(EventSpec("order", "OrderAuthorised", Authorised))
OrderConfirmed = order_events.publishes(EventSpec("order", "OrderConfirmed", OrderRef))
OrderCancelled = order_events.publishes(EventSpec("order", "OrderCancelled", OrderRef))


@pytest.fixture
async def js(app: FastAPI, platform: Any) -> AsyncIterator[JetStreamContext]:
    await eventually(lambda: _ready(app))
    nc = await nats.connect(platform.nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


async def _ready(app: FastAPI) -> bool:
    return app.state.consumer.ready.is_set()


async def inventory_events(js: JetStreamContext, aggregate_id: str) -> list[dict[str, Any]]:
    """The inventory's published events about ``aggregate_id``, from the stream."""
    sub = await js.subscribe("emporium.inventory.>", ordered_consumer=True)
    found: list[dict[str, Any]] = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=1)
            except nats.errors.TimeoutError:
                return found
            event = orjson.loads(msg.data)
            if event["aggregate_id"] == aggregate_id:
                found.append(event)
    finally:
        await sub.unsubscribe()


async def test_a_catalog_product_gets_stock_for_each_offer(
    js: JetStreamContext, db: InventoryDb
) -> None:
    own, *listed = skus = [f"SKU-{ULID()}", f"SKU-{ULID()}", f"SKU-{ULID()}"]
    product = Product(
        id=f"prod-{ULID()}",
        sku=own,
        owner_seller_id="seller-0",
        listings=[Listing(seller_id=f"seller-{n + 1}", sku=sku) for n, sku in enumerate(listed)],
        version=1,
    )
    await EventPublisher(js).publish(
        catalog_events.new(ProductCreated, product, aggregate_id=product.id)
    )
    levels = await eventually(
        lambda: _all(stock.get_stocks(db=db, skus=skus), len(skus)), within_s=30
    )
    assert [levels[sku].on_hand for sku in skus] == [stock.demo_quantity(sku) for sku in skus]
    assert [levels[sku].seller_id for sku in skus] == ["seller-0", "seller-1", "seller-2"]


async def _all(found: Any, count: int) -> Any:
    result = await found
    return result if len(result) == count else None


async def test_authorised_reserves_confirmed_commits_redelivery_changes_nothing(
    js: JetStreamContext, db: InventoryDb
) -> None:
    sku = await new_sku(db, 3)
    order = f"order-{ULID()}"
    publish = EventPublisher(js).publish
    authorised = Authorised(order_id=order, lines=[Line(sku=sku, quantity=2)])
    # the same step twice, as two events (a producer that retried): one hold
    for _ in range(2):
        await publish(order_events.new(OrderAuthorised, authorised, aggregate_id=order))

    async def status(expected: ReservationStatus) -> Any:
        current = await stock.get_reservation(db=db, reservation_id=order)
        return current if current and current.status == expected else None

    await eventually(lambda: status(ReservationStatus.HELD))
    await publish(order_events.new(OrderConfirmed, OrderRef(order_id=order), aggregate_id=order))
    await eventually(lambda: status(ReservationStatus.COMMITTED))
    level = await stock.get_stock(db=db, sku=sku)
    assert level is not None
    assert (level.on_hand, level.reserved) == (1, 0)

    async def published() -> Any:
        found = [e["type"] for e in await inventory_events(js, order)]
        return found if "InventoryCommitted" in found else None

    assert await eventually(published) == ["InventoryReserved", "InventoryCommitted"]


async def test_out_of_stock_fails_and_a_cancellation_releases(
    js: JetStreamContext, db: InventoryDb
) -> None:
    sku = await new_sku(db, 1)
    publish = EventPublisher(js).publish
    short, kept = f"order-{ULID()}", f"order-{ULID()}"
    await publish(
        order_events.new(
            OrderAuthorised,
            Authorised(order_id=short, lines=[Line(sku=sku, quantity=2)]),
            aggregate_id=short,
        )
    )
    await publish(
        order_events.new(
            OrderAuthorised,
            Authorised(order_id=kept, lines=[Line(sku=sku, quantity=1)]),
            aggregate_id=kept,
        )
    )

    async def settled(order: str) -> Any:
        current = await stock.get_reservation(db=db, reservation_id=order)
        return current if current and current.status != ReservationStatus.PENDING else None

    failed = await eventually(lambda: settled(short))
    assert (failed.status, failed.reason, failed.sku) == ("FAILED", "OUT_OF_STOCK", sku)
    assert (await eventually(lambda: settled(kept))).status == ReservationStatus.HELD
    cancelled = OrderRef(order_id=kept, reason="payment_timeout")
    await publish(order_events.new(OrderCancelled, cancelled, aggregate_id=kept))

    async def released() -> Any:
        level = await stock.get_stock(db=db, sku=sku)
        return level if level and level.available == 1 else None

    await eventually(released)
    current = await stock.get_reservation(db=db, reservation_id=kept)
    assert current is not None
    assert (current.status, current.reason) == ("RELEASED", "CANCELLED")

    async def failure_published() -> Any:
        return [e["type"] for e in await inventory_events(js, short)]

    assert await eventually(failure_published) == ["InventoryReservationFailed"]
