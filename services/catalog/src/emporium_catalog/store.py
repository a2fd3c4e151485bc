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

from emporium_kit.documents import ServiceDb
from emporium_kit.errors import Conflict, NotFound
from pymongo import ASCENDING, IndexModel
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


def new_id() -> str:
    return str(ULID())


class CatalogDb(ServiceDb):
    def declare(self) -> None:
        self.products = self.aggregates(
            PRODUCTS,
            noun="product",
            not_found=lambda: NotFound("PRODUCT_NOT_FOUND", "no such product", ["id"]),
            busy=lambda: Conflict(
                "PRODUCT_BUSY", "the product is being changed by another request; retry"
            ),
        )
        self.categories = self.aggregates(
            CATEGORIES,
            noun="category",
            not_found=lambda: NotFound("CATEGORY_NOT_FOUND", "no such category", ["id"]),
            busy=lambda: Conflict(
                "CATEGORY_BUSY", "the category is being changed by another request; retry"
            ),
        )
        self.sellers = self.collection(SELLERS)
        self.seed_batches = self.collection(SEED_BATCHES)


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
