"""Contracts with the catalog: its events as the cart reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from emporium_cart import events as cart_events
from emporium_catalog import events as catalog_events
from emporium_kit.events import EventSpec, incompatibilities

pytestmark = pytest.mark.contract


@pytest.mark.parametrize("spec", cart_events.events.consumed, ids=lambda s: s.subject)
def test_the_cart_can_read_what_the_catalog_publishes(spec: EventSpec[Any]) -> None:
    published = {s.subject: s for s in catalog_events.catalog.published}
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
    assert (product.id, product.owner_seller_id, product.price.amount, product.version) == (
        "p1",
        "s1",
        1999,
        3,
    )
    changed = catalog_events.price_changed(
        {**doc, "version": 4, "price": {"amount": 1499, "currency": "EUR"}}, old_price=doc["price"]
    )
    price = cart_events.PriceChanged.parse(changed.to_json()).data
    assert (price.version, price.new_price.amount) == (4, 1499)
    archived = cart_events.ProductArchived.parse(catalog_events.product_archived(doc).to_json())
    assert archived.data.product_id == "p1"
