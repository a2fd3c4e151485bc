"""Contracts with the catalog and the order service: their events as the cart reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from emporium_cart import events as cart_events
from emporium_catalog import events as catalog_events
from emporium_kit.events import EventSpec, incompatibilities
from emporium_order import events as order_events

pytestmark = pytest.mark.contract


@pytest.mark.parametrize("spec", cart_events.events.consumed, ids=lambda s: s.subject)
def test_the_cart_can_read_what_the_catalog_and_the_order_publish(spec: EventSpec[Any]) -> None:
    published = {
        s.subject: s for s in (*catalog_events.catalog.published, *order_events.events.published)
    }
    assert spec.subject in published
    assert incompatibilities(published[spec.subject], spec) == []


def test_the_cart_parses_the_catalogs_wire_events() -> None:
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    doc = {
        "_id": "p1",
        "slug": "p1",
        "name": "Nordlys Pro 5",
        "description": "",
        "brand": "Nordlys",
        "category_id": "c1",
        "owner_seller_id": "s1",
        "sku": "NRD-1",
        "price": {"amount": 1999, "currency": "EUR"},
        "listings": [],
        "attributes": [],
        "images": [],
        "availability": "IN_STOCK",
        "status": "ACTIVE",
        "version": 3,
        "created_at": moment,
        "updated_at": moment,
    }
    product = cart_events.ProductUpdated.parse(catalog_events.product_updated(doc).to_json()).data
    assert (product.id, product.owner_seller_id, product.sku, product.price.amount) == (
        "p1",
        "s1",
        "NRD-1",
        1999,
    )
    changed = catalog_events.price_changed(
        {**doc, "version": 4, "price": {"amount": 1499, "currency": "EUR"}}, old_price=doc["price"]
    )
    price = cart_events.PriceChanged.parse(changed.to_json()).data
    assert (price.version, price.new_price.amount) == (4, 1499)
    archived = cart_events.ProductArchived.parse(catalog_events.product_archived(doc).to_json())
    assert archived.data.product_id == "p1"


def test_the_cart_parses_the_orders_wire_events() -> None:
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    doc = {
        "_id": "ord_1",
        "user_id": "u1",
        "status": "CANCELLED",
        "items": [
            {
                "order_item_id": "ord_1-1",
                "product_id": "p1",
                "sku": "NRD-1",
                "seller_id": "s1",
                "quantity": 2,
                "price_at_purchase": {"amount": 1999, "currency": "USD"},
            }
        ],
        "total_amount": 3998,
        "currency": "USD",
        "coupons": ["WELCOME10"],
        "payment_method": "pm_card_visa",
        "cancel_reason": "out_of_stock",
        "status_history": [{"status": "PENDING", "at": moment, "cause": "placed"}],
        "version": 4,
        "updated_at": moment,
    }
    [event] = order_events.status_changed(doc)
    order = cart_events.OrderCancelled.parse(event.to_json()).data
    assert (order.order_id, order.user_id, order.coupons) == ("ord_1", "u1", ["WELCOME10"])
    assert [(line.product_id, line.quantity) for line in order.lines] == [("p1", 2)]
