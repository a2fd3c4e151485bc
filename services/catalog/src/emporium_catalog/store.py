"""The catalog's database: its collections, guarded, and its aggregates behind the kit's
guarded write path.

``CatalogDb`` is the ``db`` every use case takes first (``get_product(*, db, cache, ...)``).
Products and categories are :class:`~emporium_kit.documents.Documents`: every change is one
leased, versioned single-document write carrying its events, which is exact on FerretDB 1.24
(whose updates are unguarded read-modify-writes) and on MongoDB alike. Sellers are written
once. ``sku_claims`` and ``slug_claims`` (:mod:`emporium_catalog.claims`) are insert-claims
on the raw database (``db.raw``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from emporium_kit.clients import MongoStore
from emporium_kit.documents import (
    LOCKS,
    Collection,
    Documents,
    Guard,
    LeaseConfig,
    Leases,
    NotifyTarget,
)
from emporium_kit.errors import Conflict, NotFound
from emporium_kit.settings import ServiceSettings
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

PRODUCTS = "products"
CATEGORIES = "categories"
SELLERS = "sellers"
SKU_CLAIMS = "sku_claims"
SLUG_CLAIMS = "slug_claims"
# Outbox documents of the demo seed's product batches (see seed.load).
SEED_BATCHES = "seed_batches"
# Every collection whose documents carry outbox entries: what the relay watches.
OUTBOX_COLLECTIONS = (PRODUCTS, CATEGORIES, SEED_BATCHES)


def now() -> datetime:
    """UTC now at millisecond precision: what a BSON date stores, so a document built in
    memory equals the same document read back (and the cache compares equal)."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def new_id() -> str:
    return str(ULID())


class CatalogDb:
    """``CatalogDb(db, guard, *, leases, notify)``: ``guard`` is the Mongo dependency's
    (none for command-line tools), ``leases`` the lease settings, ``notify`` what learns of
    every write that carries events (the outbox relay)."""

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        guard: Guard | None = None,
        *,
        leases: LeaseConfig | None = None,
        notify: NotifyTarget | None = None,
    ) -> None:
        self.raw = db
        self.leases = Leases(Collection(db[LOCKS], guard), leases)
        self.products = Documents(
            db[PRODUCTS],
            guard,
            leases=self.leases,
            noun="product",
            not_found=lambda: NotFound("PRODUCT_NOT_FOUND", "no such product", ["id"]),
            busy=lambda: Conflict(
                "PRODUCT_BUSY", "the product is being changed by another request; retry"
            ),
            notify=notify,
        )
        self.categories = Documents(
            db[CATEGORIES],
            guard,
            leases=self.leases,
            noun="category",
            not_found=lambda: NotFound("CATEGORY_NOT_FOUND", "no such category", ["id"]),
            busy=lambda: Conflict(
                "CATEGORY_BUSY", "the category is being changed by another request; retry"
            ),
            notify=notify,
        )
        self.sellers = Collection(db[SELLERS], guard)
        self.seed_batches = Collection(db[SEED_BATCHES], guard)

    @classmethod
    def connect(
        cls, mongo: MongoStore, settings: ServiceSettings, *, notify: NotifyTarget | None = None
    ) -> CatalogDb:
        """The app's store: every call behind the Mongo breaker, leases from the settings."""
        return cls(
            mongo.db,
            mongo.dependency.guard,
            leases=LeaseConfig.from_settings(settings),
            notify=notify,
        )


async def ensure_indexes(*, db: CatalogDb) -> None:
    """Create every index the queries need; idempotent (same names and keys on each start).

    SKU uniqueness is deliberately not an index. On MongoDB a unique index over a multikey
    ``skus`` array would do (values unique across documents; not within one document, and
    an empty array indexes as null, so every product would need one SKU). FerretDB 1.24,
    however, indexes an array as ONE value: two products sharing one SKU slip through.
    ``sku_claims`` (``_id`` = SKU, unique by construction) enforces it on both.
    """
    indexes: dict[str, list[IndexModel]] = {}
    indexes[PRODUCTS] = [
        IndexModel([("slug", ASCENDING)], name="slug_unique", unique=True),
        # listing filters: equalities (status, category/brand/seller), sort key, then _id
        IndexModel(
            [("status", 1), ("category_id", 1), ("created_at", -1), ("_id", -1)],
            name="status_category_newest",
        ),
        IndexModel(
            [("status", 1), ("category_id", 1), ("price.amount", 1), ("_id", 1)],
            name="status_category_price",
        ),
        IndexModel(
            [("status", 1), ("category_id", 1), ("name_key", 1), ("_id", 1)],
            name="status_category_name",
        ),
        IndexModel(
            [("status", 1), ("brand_key", 1), ("price.amount", 1), ("_id", 1)],
            name="status_brand_price",
        ),
        IndexModel(
            [("status", 1), ("listings.seller_id", 1), ("created_at", -1)],
            name="status_seller_newest",
        ),
        IndexModel([("status", 1), ("created_at", -1), ("_id", -1)], name="status_newest"),
        IndexModel([("status", 1), ("price.amount", 1), ("_id", 1)], name="status_price"),
        IndexModel([("status", 1), ("name_key", 1), ("_id", 1)], name="status_name"),
    ]
    indexes[CATEGORIES] = [
        IndexModel([("name", ASCENDING)], name="name_unique", unique=True),
        IndexModel([("slug", ASCENDING)], name="slug_unique", unique=True),
        IndexModel([("parent_id", ASCENDING), ("name", ASCENDING)], name="parent_name"),
        IndexModel([("ancestors", ASCENDING)], name="ancestors"),
    ]
    indexes[SELLERS] = [IndexModel([("slug", ASCENDING)], name="slug_unique", unique=True)]
    # one index per command: FerretDB 1.24 drops the connection (a server-side panic) when
    # one createIndexes names several indexes of which some already exist
    for collection, models in indexes.items():
        for model in models:
            await db.raw[collection].create_indexes([model])
