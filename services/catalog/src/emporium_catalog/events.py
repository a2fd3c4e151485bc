"""Every event the catalog publishes and consumes, declared in one place.

Subjects are ``emporium.catalog.<Type>`` on the ``EMPORIUM_CATALOG`` stream. Each payload
carries the aggregate's ``version`` (the product's or category's document version after the
change), so a consumer keeps the highest version it has applied and drops anything older or
equal: redelivery, replays and out-of-order arrival all become no-ops.

The payloads are integration events, not the API: the ``*Data`` models below are their own
contract, built from the stored document (``from_doc``), never from the GraphQL read models,
so a change to a GraphQL field does not change what consumers receive. Each spec states its
payload ``version``; ``services/catalog/contracts/`` holds the published JSON schemas
(``emporium-catalog event-schemas``) and ``tests/test_event_contract.py`` pins them. Adding
an optional field keeps a version; anything else is a new version (``docs/events.md``).

Events never leave on their own: the service puts them in the same single-document write as
the state change (``Documents.insert`` / ``Documents.update``) and the kit's outbox worker
publishes them.

Consumed (durable consumer ``catalog-stock``, a batch consumer): the inventory's
``StockLevelChanged``, which sets the availability of the offers it tracks
(:mod:`emporium_catalog.stock`); idempotent by the stock version the product records per SKU.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from emporium_kit.events.envelope import Event, EventCatalog, EventSpec
from emporium_kit.resilience import DependencyUnavailable
from pydantic import BaseModel, ConfigDict

from emporium_catalog.domain import Availability, ProductStatus

DOMAIN = "catalog"

Doc = Mapping[str, Any]
CategoryChange = Literal["CREATED", "UPDATED", "MOVED", "DELETED"]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


class MoneyData(_Payload):
    """Integer minor units and an ISO 4217 code."""

    amount: int
    currency: str

    @classmethod
    def from_doc(cls, doc: Doc) -> MoneyData:
        return cls(amount=doc["amount"], currency=doc["currency"])


class ListingData(_Payload):
    """One seller's offer of the product."""

    seller_id: str
    sku: str
    price: MoneyData
    availability: Availability
    updated_at: datetime


class AttributeData(_Payload):
    name: str
    value: str


class ImageData(_Payload):
    url: str
    alt: str = ""


class ProductData(_Payload):
    """The whole product after the change (v1 of ``ProductCreated`` / ``ProductUpdated``):
    consumers (the search indexer, the recommendation builder) rebuild their documents from
    it without calling back."""

    id: str
    slug: str
    name: str
    description: str
    brand: str
    category_id: str
    owner_seller_id: str | None
    sku: str
    price: MoneyData
    listings: list[ListingData]
    attributes: list[AttributeData]
    images: list[ImageData]
    availability: Availability
    status: ProductStatus
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_doc(cls, doc: Doc) -> ProductData:
        return cls(
            id=doc["_id"],
            slug=doc["slug"],
            name=doc["name"],
            description=doc["description"],
            brand=doc["brand"],
            category_id=doc["category_id"],
            owner_seller_id=doc.get("owner_seller_id"),
            sku=doc["sku"],
            price=MoneyData.from_doc(doc["price"]),
            listings=[
                ListingData(
                    seller_id=listing["seller_id"],
                    sku=listing["sku"],
                    price=MoneyData.from_doc(listing["price"]),
                    availability=listing["availability"],
                    updated_at=listing["updated_at"],
                )
                for listing in doc.get("listings", [])
            ],
            attributes=[
                AttributeData(name=a["name"], value=a["value"]) for a in doc.get("attributes", [])
            ],
            images=[ImageData(url=i["url"], alt=i.get("alt", "")) for i in doc.get("images", [])],
            availability=doc["availability"],
            status=doc["status"],
            version=doc["version"],
            created_at=doc["created_at"],
            updated_at=doc["updated_at"],
        )


class ProductArchivedData(_Payload):
    product_id: str
    version: int
    archived_at: datetime


class PriceChangedData(_Payload):
    product_id: str
    version: int
    old_price: MoneyData
    new_price: MoneyData
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

ProductCreated = catalog.publishes(EventSpec(DOMAIN, "ProductCreated", ProductData, version=1))
ProductUpdated = catalog.publishes(EventSpec(DOMAIN, "ProductUpdated", ProductData, version=1))
PriceChanged = catalog.publishes(EventSpec(DOMAIN, "PriceChanged", PriceChangedData, version=1))
ProductArchived = catalog.publishes(
    EventSpec(DOMAIN, "ProductArchived", ProductArchivedData, version=1)
)
CategoryChanged = catalog.publishes(
    EventSpec(DOMAIN, "CategoryChanged", CategoryChangedData, version=1)
)

# The builders below take the product or category document as it is stored after the change.


def product_created(doc: Doc, *, occurred_at: datetime | None = None) -> Event[ProductData]:
    return catalog.new(
        ProductCreated,
        ProductData.from_doc(doc),
        aggregate_id=doc["_id"],
        occurred_at=occurred_at or doc["updated_at"],
    )


def product_updated(doc: Doc) -> Event[ProductData]:
    return catalog.new(
        ProductUpdated,
        ProductData.from_doc(doc),
        aggregate_id=doc["_id"],
        occurred_at=doc["updated_at"],
    )


def product_archived(doc: Doc) -> Event[ProductArchivedData]:
    data = ProductArchivedData(
        product_id=doc["_id"], version=doc["version"], archived_at=doc["updated_at"]
    )
    return catalog.new(
        ProductArchived, data, aggregate_id=doc["_id"], occurred_at=doc["updated_at"]
    )


def price_changed(doc: Doc, *, old_price: Doc) -> Event[PriceChangedData]:
    data = PriceChangedData(
        product_id=doc["_id"],
        version=doc["version"],
        old_price=MoneyData.from_doc(old_price),
        new_price=MoneyData.from_doc(doc["price"]),
        changed_at=doc["updated_at"],
    )
    return catalog.new(PriceChanged, data, aggregate_id=doc["_id"], occurred_at=doc["updated_at"])


def category_changed(
    doc: Doc, *, change: CategoryChange, occurred_at: datetime | None = None
) -> Event[CategoryChangedData]:
    data = CategoryChangedData(
        category_id=doc["_id"],
        change=change,
        version=doc["version"],
        name=doc["name"],
        slug=doc["slug"],
        parent_id=doc.get("parent_id"),
        ancestors=list(doc.get("ancestors", [])),
    )
    return catalog.new(
        CategoryChanged,
        data,
        aggregate_id=doc["_id"],
        occurred_at=occurred_at or doc["updated_at"],
    )


# -- consumed ------------------------------------------------------------------------------


class StockLevelView(BaseModel):
    """What the catalog reads of the inventory's ``StockLevelChanged`` (a tolerant reader:
    a subset of the published fields)."""

    sku: str
    product_id: str | None = None
    available: int
    version: int


StockLevelChanged = catalog.consumes(EventSpec("inventory", "StockLevelChanged", StockLevelView))

# The store being down is not the event's fault: the consumer waits it out instead of
# spending delivery attempts (docs/events.md, *Waiting out an outage*).
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (DependencyUnavailable,)
