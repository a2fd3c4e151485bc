"""Every event the catalog publishes (and consumes: none yet), declared in one place.

Subjects are ``emporium.catalog.<Type>`` on the ``EMPORIUM_CATALOG`` stream. Each payload
carries the aggregate's ``version`` (the product's or category's document version after the
change), so a consumer keeps the highest version it has applied and drops anything older or
equal: redelivery, replays and out-of-order arrival all become no-ops.

Events never leave on their own: the service puts them in the same single-document write as
the state change (the kit's ``with_outbox`` / ``with_events``) and the kit's ``OutboxRelay``
publishes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from emporium_catalog.models import CategoryRead, MoneyRead, ProductRead
from emporium_kit.events.envelope import Event, EventCatalog, EventSpec
from pydantic import BaseModel, ConfigDict

DOMAIN = "catalog"

CategoryChange = Literal["CREATED", "UPDATED", "MOVED", "DELETED"]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


class ProductArchivedData(_Payload):
    product_id: str
    version: int
    archived_at: datetime


class PriceChangedData(_Payload):
    product_id: str
    version: int
    old_price: MoneyRead
    new_price: MoneyRead
    changed_at: datetime


class CategoryChangedData(_Payload):
    category_id: str
    change: CategoryChange
    version: int
    name: str
    slug: str
    parent_id: str | None
    ancestors: list[str]


catalog = EventCatalog("catalog")

# ProductCreated / ProductUpdated carry the whole product (the search indexer and the
# recommendation builder rebuild their documents from it without calling back).
ProductCreated = catalog.publishes(EventSpec(DOMAIN, "ProductCreated", ProductRead))
ProductUpdated = catalog.publishes(EventSpec(DOMAIN, "ProductUpdated", ProductRead))
PriceChanged = catalog.publishes(EventSpec(DOMAIN, "PriceChanged", PriceChangedData))
ProductArchived = catalog.publishes(EventSpec(DOMAIN, "ProductArchived", ProductArchivedData))
CategoryChanged = catalog.publishes(EventSpec(DOMAIN, "CategoryChanged", CategoryChangedData))


def product_created(
    product: ProductRead, *, occurred_at: datetime | None = None
) -> Event[ProductRead]:
    return catalog.new(
        ProductCreated,
        product,
        aggregate_id=product.id,
        occurred_at=occurred_at or product.updated_at,
    )


def product_updated(product: ProductRead) -> Event[ProductRead]:
    return catalog.new(
        ProductUpdated, product, aggregate_id=product.id, occurred_at=product.updated_at
    )


def product_archived(product: ProductRead) -> Event[ProductArchivedData]:
    data = ProductArchivedData(
        product_id=product.id, version=product.version, archived_at=product.updated_at
    )
    return catalog.new(
        ProductArchived, data, aggregate_id=product.id, occurred_at=product.updated_at
    )


def price_changed(product: ProductRead, *, old_price: Mapping[str, Any]) -> Event[PriceChangedData]:
    data = PriceChangedData(
        product_id=product.id,
        version=product.version,
        old_price=MoneyRead.model_validate(old_price),
        new_price=product.price,
        changed_at=product.updated_at,
    )
    return catalog.new(PriceChanged, data, aggregate_id=product.id, occurred_at=product.updated_at)


def category_changed(
    category: CategoryRead, *, change: CategoryChange, occurred_at: datetime | None = None
) -> Event[CategoryChangedData]:
    data = CategoryChangedData(
        category_id=category.id,
        change=change,
        version=category.version,
        name=category.name,
        slug=category.slug,
        parent_id=category.parent_id,
        ancestors=category.ancestors,
    )
    return catalog.new(
        CategoryChanged,
        data,
        aggregate_id=category.id,
        occurred_at=occurred_at or category.updated_at,
    )
