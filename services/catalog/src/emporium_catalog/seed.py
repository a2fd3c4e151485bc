"""The deterministic demo catalog behind ``emporium-catalog seed``.

:func:`generate` is pure: the same ``seed`` and ``products`` give byte-identical documents
(ids included: ULIDs built from fixed timestamps and the seeded RNG), drawn from the word lists
in ``data/seed_catalog.json`` — no network, no clock. :func:`load` writes them idempotently:
documents are keyed by those ids, so only missing ones are inserted and a second run adds
nothing. Inserts are bulk (``insert_many``); the CategoryChanged and ProductCreated events go
through the outbox like API writes (see :func:`load` for the product batches), and the relay
publishes them for the search indexer.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from emporium_kit.documents import now
from emporium_kit.events.outbox import with_outbox
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError
from ulid import ULID

from emporium_catalog import events
from emporium_catalog.domain import Availability, slugify
from emporium_catalog.models import (
    AttributeInput,
    ImageInput,
    MoneyInput,
    ProductCreate,
)
from emporium_catalog.products import SKUS, SLUGS, product_document
from emporium_catalog.store import (
    CATEGORIES,
    PRODUCTS,
    SEED_BATCHES,
    SELLERS,
    CatalogDb,
    ensure_indexes,
)

Db = AsyncDatabase[dict[str, Any]]

log = logging.getLogger(__name__)

DEFAULT_PRODUCTS = 2000
DEFAULT_SEED = 42
# Products per insert and per seed_batches document; part of the batch ids, so fixed.
BATCH = 500
_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
_AVAILABILITY = (
    [Availability.IN_STOCK] * 16
    + [Availability.OUT_OF_STOCK] * 2
    + [Availability.PREORDER, Availability.BACKORDER]
)


def word_lists() -> dict[str, Any]:
    text = resources.files("emporium_catalog").joinpath("data/seed_catalog.json").read_text()
    words: dict[str, Any] = json.loads(text)
    return words


def _ulid(rng: random.Random, moment: datetime) -> str:
    millis = int(moment.timestamp() * 1000)
    return str(ULID.from_bytes(millis.to_bytes(6, "big") + rng.randbytes(10)))


def _code(text: str) -> str:
    letters = "".join(ch for ch in text.upper() if ch.isalnum())
    return (letters + "XXX")[:3]


def _shelf_price(amount: int) -> int:
    """Round to a shelf price ending in 99 cents (never below 99)."""
    return max(99, amount - amount % 100 + 99)


@dataclass
class _Leaf:
    category_id: str
    name: str
    noun: str
    price: tuple[int, int]
    brands: list[str]
    attributes: dict[str, list[str]]
    titles: bool


@dataclass
class DemoCatalog:
    seed: int
    categories: list[dict[str, Any]] = field(default_factory=list)
    sellers: list[dict[str, Any]] = field(default_factory=list)
    products: list[dict[str, Any]] = field(default_factory=list)


def generate(*, products: int = DEFAULT_PRODUCTS, seed: int = DEFAULT_SEED) -> DemoCatalog:
    """Build the demo catalog documents (without outbox entries)."""
    words = word_lists()
    rng = random.Random(seed)
    catalog = DemoCatalog(seed=seed)

    for name in words["seller_names"]:
        catalog.sellers.append(
            {"_id": _ulid(rng, _EPOCH), "name": name, "slug": slugify(name), "created_at": _EPOCH}
        )

    leaves: list[_Leaf] = []

    def category(name: str, parent: dict[str, Any] | None) -> dict[str, Any]:
        doc = {
            "_id": _ulid(rng, _EPOCH),
            "name": name,
            "slug": slugify(name),
            "parent_id": parent["_id"] if parent else None,
            "ancestors": [*parent["ancestors"], parent["_id"]] if parent else [],
            "version": 1,
            "created_at": _EPOCH,
            "updated_at": _EPOCH,
        }
        catalog.categories.append(doc)
        return doc

    for root_spec in words["tree"]:
        root = category(root_spec["name"], None)
        for group_spec in root_spec["groups"]:
            group = category(group_spec["name"], root)
            for leaf_spec in group_spec["leaves"]:
                leaf_category = category(leaf_spec["name"], group)
                leaves.append(
                    _Leaf(
                        category_id=leaf_category["_id"],
                        name=leaf_spec["name"],
                        noun=leaf_spec["noun"],
                        price=(leaf_spec["price"][0], leaf_spec["price"][1]),
                        brands=group_spec["brands"],
                        attributes=group_spec["attributes"],
                        titles=bool(root_spec.get("titles")),
                    )
                )

    for index in range(products):
        # every leaf gets products before the rest are spread at random
        leaf = leaves[index] if index < len(leaves) else rng.choice(leaves)
        created = _EPOCH + timedelta(minutes=37 * index + rng.randrange(30))
        catalog.products.append(
            _product(
                rng, words=words, sellers=catalog.sellers, leaf=leaf, index=index, created=created
            )
        )
    return catalog


def _product(
    rng: random.Random,
    *,
    words: dict[str, Any],
    sellers: Sequence[dict[str, Any]],
    leaf: _Leaf,
    index: int,
    created: datetime,
) -> dict[str, Any]:
    product_id = _ulid(rng, created)
    brand = rng.choice(leaf.brands)
    adjective = rng.choice(words["adjectives"])
    if leaf.titles:
        name = f"The {rng.choice(words['title_adjectives'])} {rng.choice(words['title_nouns'])}"
    elif rng.random() < 0.5:
        name = f"{brand} {rng.choice(words['series'])} {rng.randint(1, 9)} {leaf.noun}"
    else:
        name = f"{brand} {adjective} {leaf.noun} {rng.choice(words['series'])}"
    attributes = {key: rng.choice(values) for key, values in leaf.attributes.items()}
    details = ", ".join(f"{key.lower()} {value}" for key, value in attributes.items())
    description = (
        f"{name} by {brand}: a {adjective.lower()} {leaf.noun.lower()} from our "
        f"{leaf.name} range ({details})."
    )
    sku = f"{_code(brand)}-{_code(leaf.name)}-{index + 1:05d}"
    slug = f"{slugify(name)}-{index + 1:04d}"
    base = _shelf_price(rng.randint(*leaf.price))
    offering = rng.sample(list(sellers), rng.choice([1, 1, 2, 2, 3]))
    listings = []
    for seller in offering:
        factor = 1 + rng.uniform(-0.08, 0.08)
        listings.append(
            {
                "seller_id": seller["_id"],
                "sku": f"{sku}-{_code(seller['slug'])}{sellers.index(seller):02d}",
                "price": {"amount": _shelf_price(int(base * factor)), "currency": "USD"},
                "availability": rng.choice(_AVAILABILITY).value,
                "updated_at": created,
            }
        )
    listings.sort(key=lambda item: item["seller_id"])
    host = words["image_host"]
    data = ProductCreate(
        name=name,
        slug=slug,
        description=description,
        brand=brand,
        category_id=leaf.category_id,
        sku=sku,
        price=MoneyInput(amount=base, currency="USD"),
        availability=rng.choice(_AVAILABILITY),
        attributes=[AttributeInput(name=k, value=v) for k, v in attributes.items()],
        images=[
            ImageInput(url=f"{host}/products/{slug}/{n}.jpg", alt=f"{name}, view {n}")
            for n in range(1, rng.randint(1, 3) + 1)
        ],
    )
    return product_document(
        product_id=product_id,
        slug=slug,
        data=data,
        owner_seller_id=offering[0]["_id"],
        moment=created,
        listings=listings,
    )


@dataclass(frozen=True)
class SeedResult:
    categories: int
    sellers: int
    products: int
    skipped: list[str]


async def _missing(db: Db, collection: str, docs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [doc["_id"] for doc in docs]
    present: set[str] = set()
    for start in range(0, len(ids), 1000):
        cursor = db[collection].find({"_id": {"$in": ids[start : start + 1000]}}, {"_id": 1})
        present.update([doc["_id"] async for doc in cursor])
    return [doc for doc in docs if doc["_id"] not in present]


async def _insert(db: Db, collection: str, docs: Sequence[dict[str, Any]]) -> tuple[int, list[str]]:
    """Bulk insert; returns (inserted, ids rejected as duplicates of a unique value)."""
    inserted, rejected = 0, []
    for start in range(0, len(docs), BATCH):
        chunk = docs[start : start + BATCH]
        try:
            result = await db[collection].insert_many(chunk, ordered=False)
            inserted += len(result.inserted_ids)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(err.get("code") != 11000 for err in errors):
                raise
            inserted += exc.details.get("nInserted", 0)
            rejected += [chunk[err["index"]]["_id"] for err in errors]
    return inserted, rejected


async def _claim_all(db: Db, products: Sequence[dict[str, Any]]) -> set[str]:
    """Claim every SKU and slug of ``products``; returns the ids of products whose values
    belong to someone else (they are skipped). Claims left by an interrupted run are ours."""
    skus = {sku: doc["_id"] for doc in products for sku in doc["skus"]}
    slugs = {doc["slug"]: doc["_id"] for doc in products}
    return await SKUS.claim_all(db, skus) | await SLUGS.claim_all(db, slugs)


async def load(*, db: CatalogDb, catalog: DemoCatalog, product_events: bool = True) -> SeedResult:
    """Insert whatever part of ``catalog`` is missing, with its events; idempotent.
    ``product_events=False`` stages no ``ProductCreated`` (a bootstrap whose read models
    build from the catalog's export instead).

    Sellers and categories are inserted like API writes (each category with its
    CategoryChanged in its own outbox). Products go in batches of :data:`BATCH`: missing
    products are bulk-inserted, then ONE ``seed_batches`` document carries the batch's
    ProductCreated events as its outbox. Publishing them then costs the relay one document
    update per batch instead of one per product, which on FerretDB (where every update scans
    the collection) is the difference between seconds and minutes. A crash between the two
    steps leaves products without their batch document; the next run sees the batch
    document missing and writes it, so every seeded product's event is eventually published.

    Rows whose unique values (a name, slug or SKU) already belong to other documents are
    skipped and reported rather than failing the whole load.
    """
    await ensure_indexes(db=db)
    raw = db.raw
    occurred = now()  # the events happen now, whatever the demo's created_at says

    sellers = await _missing(raw, SELLERS, catalog.sellers)
    seller_count, skipped_sellers = await _insert(raw, SELLERS, sellers)

    categories = [
        with_outbox(
            doc,
            [events.category_changed(doc, change="CREATED", occurred_at=occurred)],
        )
        for doc in await _missing(raw, CATEGORIES, catalog.categories)
    ]
    category_count, skipped_categories = await _insert(raw, CATEGORIES, categories)

    product_count, skipped_products = 0, []
    for number, start in enumerate(range(0, len(catalog.products), BATCH)):
        chunk = catalog.products[start : start + BATCH]
        missing = await _missing(raw, PRODUCTS, chunk)
        blocked = await _claim_all(raw, missing)
        inserted, rejected = await _insert(
            raw, PRODUCTS, [doc for doc in missing if doc["_id"] not in blocked]
        )
        for doc in missing:  # a unique value clash: give its claims back
            if doc["_id"] in {*blocked, *rejected}:
                await SKUS.release(raw, doc["skus"], doc["_id"])
                await SLUGS.release(raw, [doc["slug"]], doc["_id"])
        product_count += inserted
        skipped_products += [*blocked, *rejected]
        if product_events:
            await _ensure_batch_events(
                raw,
                batch_id=f"seed-{catalog.seed}-{number}",
                products=[doc for doc in chunk if doc["_id"] not in {*blocked, *rejected}],
                occurred=occurred,
            )
    skipped = sorted({*skipped_sellers, *skipped_categories, *skipped_products})
    if skipped:
        log.warning("seed rows skipped: unique values taken by other rows", extra={"ids": skipped})
    return SeedResult(category_count, seller_count, product_count, skipped)


async def _ensure_batch_events(
    db: Db, *, batch_id: str, products: Sequence[dict[str, Any]], occurred: datetime
) -> None:
    """Write the batch's ProductCreated events once (their document is the marker)."""
    if not products or await db[SEED_BATCHES].count_documents({"_id": batch_id}, limit=1):
        return
    batch_events = [events.product_created(doc, occurred_at=occurred) for doc in products]
    document = {
        "_id": batch_id,
        "product_ids": [doc["_id"] for doc in products],
        "created_at": occurred,
    }
    await db[SEED_BATCHES].insert_one(with_outbox(document, batch_events))
