"""Catalog use cases: plain async functions, keyword-only, store first.

Every write of a product or category is ONE single-document insert or update that carries
the state change and its outbox events together (FerretDB has no multi-document
transactions). Updates are compare-and-set on ``version`` and run under the aggregate's
lease (see :func:`lease`: FerretDB applies updates as unguarded read-modify-writes). A
rejected call is rejected before anything is written: validation, authorisation and
existence checks come first.

Two rules span documents and are built to survive a crash half-way:

- SKU uniqueness (a product's SKU and every listing's) lives in ``sku_claims``: claim first,
  then write the product, release on failure; a leftover claim is taken over once it is
  older than :data:`CLAIM_GRACE` and its product does not hold the SKU.
- Category structure changes (create, move, delete) run under the tree lease and first
  re-derive every ``ancestors`` list from the ``parent_id`` chain, so a move interrupted
  half-way is completed by the next structural change (or ``emporium-catalog repair-tree``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from emporium_catalog import events
from emporium_catalog.cache import MISSING, ProductCache
from emporium_catalog.claims import UniqueClaims
from emporium_catalog.domain import (
    Cursor,
    ProductSort,
    ProductStatus,
    TreeNode,
    ancestors_for_child_of,
    check_depth,
    check_move,
    keyset_filter,
    slugify,
    sort_spec,
    subtree_height,
)
from emporium_catalog.models import (
    MAX_LISTINGS,
    CategoryCreate,
    CategoryRead,
    CategoryUpdate,
    ListingInput,
    MoneyInput,
    ProductCreate,
    ProductFilterInput,
    ProductRead,
    ProductUpdate,
    SellerCreate,
    SellerRead,
)
from emporium_kit.auth import Principal
from emporium_kit.errors import Conflict, Forbidden, NotFound
from emporium_kit.events.envelope import Event
from emporium_kit.events.outbox import with_events, with_outbox
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from ulid import ULID

Db = AsyncDatabase[dict[str, Any]]

PRODUCTS = "products"
CATEGORIES = "categories"
SELLERS = "sellers"
LOCKS = "locks"
SKU_CLAIMS = "sku_claims"
SLUG_CLAIMS = "slug_claims"
# Outbox documents of the demo seed's product batches (see seed.load).
SEED_BATCHES = "seed_batches"
# Every collection whose documents carry outbox entries: what the relay watches.
OUTBOX_COLLECTIONS = (PRODUCTS, CATEGORIES, SEED_BATCHES)

# Fields a ProductRead never needs: the outbox and the derived lookup keys.
_PRODUCT_PROJECTION = {"outbox": 0, "skus": 0, "name_key": 0, "brand_key": 0}
_CATEGORY_PROJECTION = {"outbox": 0}
_CAS_ATTEMPTS = 5


def now() -> datetime:
    """UTC now at millisecond precision: what a BSON date stores, so a document built in
    memory equals the same document read back (and the cache compares equal)."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def new_id() -> str:
    return str(ULID())


# -------------------------------------------------------------------------------------- indexes


async def ensure_indexes(*, db: Db) -> None:
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
            await db[collection].create_indexes([model])


# -------------------------------------------------------------------------------------- leases

_LEASE_TTL = timedelta(seconds=30)
_LEASE_WAIT_S = 5.0


@asynccontextmanager
async def lease(db: Db, name: str, *, busy: Conflict) -> AsyncIterator[None]:
    """Exclusive lease ``name`` across processes, or ``busy`` after waiting ``_LEASE_WAIT_S``.

    Taking it is an insert into ``locks`` (the unique ``_id`` makes that atomic on FerretDB
    too). FerretDB 1.24 applies every update as an unguarded read-modify-write, so two
    compare-and-set updates of one document can both "match" and one silently undoes the
    other; writers of an aggregate therefore hold its lease, and the ``version`` filter
    stays as the check that makes the same code correct on MongoDB without it. FerretDB has
    no TTL indexes: a lease left by a crashed holder is taken over once ``expires_at`` passed.
    """
    token = new_id()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _LEASE_WAIT_S
    while True:
        moment = now()
        held = {"token": token, "expires_at": moment + _LEASE_TTL}
        try:
            await db[LOCKS].insert_one({"_id": name, **held})
            break
        except DuplicateKeyError:
            taken = await db[LOCKS].find_one_and_update(
                {"_id": name, "expires_at": {"$lt": moment}},
                {"$set": held},
                return_document=ReturnDocument.AFTER,
            )
            if taken is not None:
                break
        if loop.time() > deadline:
            raise busy
        await asyncio.sleep(0.02)  # waiting for a holder that finishes in milliseconds
    try:
        yield
    finally:
        await asyncio.shield(db[LOCKS].delete_one({"_id": name, "token": token}))


def product_lease(db: Db, product_id: str) -> AbstractAsyncContextManager[None]:
    return lease(
        db,
        f"product:{product_id}",
        busy=Conflict("PRODUCT_BUSY", "the product is being changed by another request; retry"),
    )


# ------------------------------------------------------------------------------ unique values


def _sku_taken(field: list[str | int]) -> Conflict:
    return Conflict("SKU_TAKEN", "this SKU is already in the catalog", field)


def _slug_taken(field: list[str | int]) -> Conflict:
    return Conflict("SLUG_TAKEN", "this slug is taken", field)


SKUS = UniqueClaims(
    collection=SKU_CLAIMS,
    products=PRODUCTS,
    projection={"skus": 1},
    holds=lambda product, sku: sku in product.get("skus", []),
    taken=_sku_taken,
    now=now,
)
SLUGS = UniqueClaims(
    collection=SLUG_CLAIMS,
    products=PRODUCTS,
    projection={"slug": 1},
    holds=lambda product, slug: product.get("slug") == slug,
    taken=_slug_taken,
    now=now,
)
# Marks a catalog whose slug claims were filled from its products (databases that predate
# them); cannot collide with a slug, which is lower-case letters, digits and hyphens.
_SLUGS_BACKFILLED = "#backfilled"


async def ensure_slug_claims(*, db: Db) -> None:
    """Claim the slug of every product that has none (once per database)."""
    if await db[SLUG_CLAIMS].find_one({"_id": _SLUGS_BACKFILLED}) is not None:
        return
    owner_of = {doc["slug"]: doc["_id"] async for doc in db[PRODUCTS].find({}, {"slug": 1})}
    await SLUGS.claim_all(db, owner_of)
    with contextlib.suppress(DuplicateKeyError):
        await db[SLUG_CLAIMS].insert_one({"_id": _SLUGS_BACKFILLED, "at": now()})


# ------------------------------------------------------------------------------------- sellers


async def create_seller(*, db: Db, data: SellerCreate) -> SellerRead:
    doc = {
        "_id": new_id(),
        "name": data.name,
        "slug": data.slug or slugify(data.name),
        "created_at": now(),
    }
    try:
        await db[SELLERS].insert_one(doc)
    except DuplicateKeyError:
        raise Conflict("SLUG_TAKEN", "a seller with this slug exists", ["input", "slug"]) from None
    return SellerRead.from_doc(doc)


async def list_sellers(*, db: Db) -> list[SellerRead]:
    cursor = db[SELLERS].find({}).sort("name", ASCENDING).limit(1000)
    return [SellerRead.from_doc(doc) async for doc in cursor]


async def get_sellers(*, db: Db, ids: Sequence[str]) -> dict[str, SellerRead]:
    cursor = db[SELLERS].find({"_id": {"$in": list(set(ids))}})
    return {doc["_id"]: SellerRead.from_doc(doc) async for doc in cursor}


async def _require_seller(db: Db, seller_id: str, *, field: list[str | int]) -> None:
    if await db[SELLERS].count_documents({"_id": seller_id}, limit=1) == 0:
        raise NotFound("SELLER_NOT_FOUND", "no such seller", field)


# ------------------------------------------------------------------------------ product reads


async def get_products(
    *, db: Db, cache: ProductCache | None, ids: Sequence[str]
) -> dict[str, ProductRead]:
    """Products by id: one MGET, then ONE Mongo query for the misses, then one cache fill."""
    wanted = list(dict.fromkeys(ids))
    found = await cache.get_many(wanted) if cache else {}
    missing = [i for i in wanted if i not in found]
    if missing:
        # a single id as plain equality: FerretDB 1.24 answers that from its _id index but
        # scans the whole collection for $in
        query = {"_id": missing[0]} if len(missing) == 1 else {"_id": {"$in": missing}}
        loaded = [
            ProductRead.from_doc(doc) async for doc in db[PRODUCTS].find(query, _PRODUCT_PROJECTION)
        ]
        if cache:
            await cache.store_many(loaded)
        found.update((p.id, p) for p in loaded)
    return found


async def get_product(*, db: Db, cache: ProductCache | None, product_id: str) -> ProductRead | None:
    return (await get_products(db=db, cache=cache, ids=[product_id])).get(product_id)


async def get_product_by_slug(
    *, db: Db, cache: ProductCache | None, slug: str
) -> ProductRead | None:
    """Two ``_id`` reads (the slug's claim, then the product), never a scan; both outcomes
    are cached, a miss briefly (see :class:`ProductCache`)."""
    if cache:
        cached_id = await cache.slug_to_id(slug)
        if cached_id == MISSING:
            return None
        if cached_id is not None:
            product = await get_product(db=db, cache=cache, product_id=cached_id)
            if product is not None and product.slug == slug:
                return product
            await cache.forget_slug(slug)  # the slug moved to another product or went away
    holder = await SLUGS.holder(db, slug)
    product = await get_product(db=db, cache=cache, product_id=holder) if holder else None
    if product is None or product.slug != slug:
        if cache:
            await cache.remember_missing_slug(slug)
        return None
    if cache:
        await cache.remember_slug(slug, product.id)
    return product


@dataclass(frozen=True, slots=True)
class ProductPage:
    items: list[ProductRead]
    has_next: bool
    query: dict[str, Any]


async def _product_query(db: Db, flt: ProductFilterInput) -> dict[str, Any] | None:
    """The Mongo filter for ``flt``; ``None`` when it can match nothing (unknown category)."""
    query: dict[str, Any] = {"status": flt.status.value}
    if flt.category_id is not None:
        ids = await subtree_ids(db=db, category_id=flt.category_id)
        if not ids:
            return None
        query["category_id"] = ids[0] if len(ids) == 1 else {"$in": ids}
    if flt.brands:
        query["brand_key"] = {"$in": sorted({b.casefold() for b in flt.brands})}
    if flt.seller_id is not None:
        query["listings.seller_id"] = flt.seller_id
    price: dict[str, int] = {}
    if flt.min_price is not None:
        price["$gte"] = flt.min_price
    if flt.max_price is not None:
        price["$lte"] = flt.max_price
    if price:
        query["price.amount"] = price
    if flt.currency is not None:
        query["price.currency"] = flt.currency
    if flt.availability:
        query["availability"] = {"$in": [a.value for a in flt.availability]}
    return query


async def list_products(
    *,
    db: Db,
    flt: ProductFilterInput,
    sort: ProductSort,
    first: int,
    after: Cursor | None,
) -> ProductPage:
    """One keyset page: ``first`` rows after ``after`` in ``sort`` order (fetches one extra
    row to learn whether another page exists)."""
    query = await _product_query(db, flt)
    if query is None:
        return ProductPage(items=[], has_next=False, query={"_id": {"$in": []}})
    page_query = (
        query if after is None else {"$and": [query, keyset_filter(sort, after.key, after.id)]}
    )
    cursor = (
        db[PRODUCTS].find(page_query, _PRODUCT_PROJECTION).sort(sort_spec(sort)).limit(first + 1)
    )
    docs = await cursor.to_list(first + 1)
    items = [ProductRead.from_doc(doc) for doc in docs[:first]]
    return ProductPage(items=items, has_next=len(docs) > first, query=query)


async def count_products(*, db: Db, query: dict[str, Any]) -> int:
    return await db[PRODUCTS].count_documents(query)


# ----------------------------------------------------------------------------- product writes


def _require_own_seller_id(
    principal: Principal, seller_id: str | None, *, field: list[str | int]
) -> None:
    """Sellers act only for their own ``seller_id``; admins act for anyone."""
    if principal.is_admin:
        return
    if principal.seller_id is None or principal.seller_id != seller_id:
        raise Forbidden(
            "NOT_YOUR_SELLER_ACCOUNT", "sellers may only act for their own seller account", field
        )


def _authorize_product(principal: Principal, doc: dict[str, Any]) -> None:
    if principal.is_admin:
        return
    owner = doc.get("owner_seller_id")
    if owner is None or principal.seller_id != owner:
        raise Forbidden(
            "NOT_PRODUCT_OWNER",
            "only the owning seller or an admin may change this product",
            ["id"],
        )


async def _require_category(db: Db, category_id: str, *, field: list[str | int]) -> None:
    if await db[CATEGORIES].count_documents({"_id": category_id, **_LIVE}, limit=1) == 0:
        raise NotFound("CATEGORY_NOT_FOUND", "no such category", field)


def _skus(doc: dict[str, Any]) -> list[str]:
    return [doc["sku"], *(listing["sku"] for listing in doc.get("listings", []))]


async def create_product(
    *, db: Db, cache: ProductCache | None = None, data: ProductCreate, principal: Principal
) -> ProductRead:
    owner = data.owner_seller_id
    if not principal.is_admin:
        owner = owner or principal.seller_id
        _require_own_seller_id(principal, owner, field=["input", "ownerSellerId"])
    await _require_category(db, data.category_id, field=["input", "categoryId"])
    if owner is not None:
        await _require_seller(db, owner, field=["input", "ownerSellerId"])
    product_id = new_id()
    slug = await _claim_new_slug(db, data, product_id)
    moment = now()
    doc = product_document(
        product_id=product_id, slug=slug, data=data, owner_seller_id=owner, moment=moment
    )
    product = ProductRead.from_doc(doc)
    try:
        await SKUS.claim(db, data.sku, product_id, field=["input", "sku"])
        try:
            await db[PRODUCTS].insert_one(with_outbox(doc, [events.product_created(product)]))
        except DuplicateKeyError:
            # the slug index of a product written before slug claims existed
            await asyncio.shield(SKUS.release(db, [data.sku], product_id))
            raise _slug_taken(["input", "slug"]) from None
        except BaseException:
            await asyncio.shield(SKUS.release(db, [data.sku], product_id))
            raise
    except BaseException:
        await asyncio.shield(SLUGS.release(db, [slug], product_id))
        raise
    if cache:
        await cache.forget_slug(slug)  # a "no such slug" remembered before this write
    return product


async def _claim_new_slug(db: Db, data: ProductCreate, product_id: str) -> str:
    """The requested slug, or one made from the name (with the id's tail when taken)."""
    if data.slug is not None:
        await SLUGS.claim(db, data.slug, product_id, field=["input", "slug"])
        return data.slug
    slug = slugify(data.name) or product_id.lower()
    try:
        await SLUGS.claim(db, slug, product_id, field=["input", "name"])
    except Conflict:
        slug = f"{slug[:100]}-{product_id[-8:].lower()}"
        await SLUGS.claim(db, slug, product_id, field=["input", "name"])
    return slug


def product_document(
    *,
    product_id: str,
    slug: str,
    data: ProductCreate,
    owner_seller_id: str | None,
    moment: datetime,
    listings: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The stored shape of a new product (also used by the seed's bulk insert)."""
    doc: dict[str, Any] = {
        "_id": product_id,
        "slug": slug,
        "name": data.name,
        "name_key": data.name.casefold(),
        "description": data.description,
        "brand": data.brand,
        "brand_key": data.brand.casefold(),
        "category_id": data.category_id,
        "owner_seller_id": owner_seller_id,
        "sku": data.sku,
        "price": data.price.money().to_doc(),
        "listings": list(listings),
        "attributes": [a.model_dump() for a in data.attributes],
        "images": [i.model_dump() for i in data.images],
        "availability": data.availability.value,
        "status": ProductStatus.ACTIVE.value,
        "version": 1,
        "created_at": moment,
        "updated_at": moment,
    }
    doc["skus"] = _skus(doc)
    return doc


async def _attempts(
    db: Db, product_id: str, expected_version: int | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Fresh reads of a product for up to ``_CAS_ATTEMPTS`` compare-and-set attempts."""
    for _ in range(_CAS_ATTEMPTS):
        doc = await db[PRODUCTS].find_one({"_id": product_id}, {"outbox": 0})
        if doc is None:
            raise NotFound("PRODUCT_NOT_FOUND", "no such product", ["id"])
        if expected_version is not None and doc["version"] != expected_version:
            raise Conflict(
                "VERSION_CONFLICT",
                f"the product is at version {doc['version']}, not {expected_version}",
                ["input", "expectedVersion"],
            )
        yield doc


def _kept_changing() -> Conflict:
    return Conflict("CONCURRENT_MODIFICATION", "the product kept changing concurrently; retry")


async def _apply(
    db: Db,
    cache: ProductCache | None,
    doc: dict[str, Any],
    changes: dict[str, Any],
    make_events: Callable[[ProductRead], list[Event[Any]]],
) -> ProductRead | None:
    """Write ``changes`` and their events if ``doc`` is still at its version (else ``None``),
    then invalidate the cache entries of the old and new slug."""
    changes = {**changes, "version": doc["version"] + 1, "updated_at": now()}
    if "listings" in changes:
        changes["skus"] = _skus({**doc, **changes})
    after = ProductRead.from_doc({**doc, **changes})
    update = with_events({"$set": changes}, make_events(after))
    try:
        result = await db[PRODUCTS].update_one(
            {"_id": doc["_id"], "version": doc["version"]}, update
        )
    except DuplicateKeyError:
        raise _slug_taken(["input", "slug"]) from None
    if result.matched_count == 0:
        return None
    if cache:
        await cache.invalidate(after.id, after.version, {doc["slug"], after.slug})
    return after


async def update_product(
    *,
    db: Db,
    cache: ProductCache | None,
    product_id: str,
    data: ProductUpdate,
    principal: Principal,
) -> ProductRead:
    fields = data.model_dump(mode="json", exclude_unset=True, exclude={"expected_version"})
    if "category_id" in fields:
        await _require_category(db, fields["category_id"], field=["input", "categoryId"])
    async with product_lease(db, product_id):
        async for doc in _attempts(db, product_id, data.expected_version):
            _authorize_product(principal, doc)
            changes = {key: value for key, value in fields.items() if doc.get(key) != value}
            if "name" in changes:
                changes["name_key"] = changes["name"].casefold()
            if "brand" in changes:
                changes["brand_key"] = changes["brand"].casefold()
            if not changes:
                return ProductRead.from_doc(doc)
            new_slug = changes.get("slug")
            if new_slug is not None:
                await SLUGS.claim(db, new_slug, product_id, field=["input", "slug"])
            try:
                updated = await _apply(
                    db, cache, doc, changes, lambda after: [events.product_updated(after)]
                )
            except BaseException:
                if new_slug is not None:
                    await asyncio.shield(SLUGS.release(db, [new_slug], product_id))
                raise
            if updated is not None:
                if new_slug is not None:
                    await SLUGS.release(db, [doc["slug"]], product_id)
                return updated
            if new_slug is not None:
                await SLUGS.release(db, [new_slug], product_id)
        raise _kept_changing()


async def archive_product(
    *, db: Db, cache: ProductCache | None, product_id: str, principal: Principal
) -> ProductRead:
    """Archive (soft-delete) a product; archiving an archived product changes nothing."""
    async with product_lease(db, product_id):
        async for doc in _attempts(db, product_id):
            _authorize_product(principal, doc)
            if doc["status"] == ProductStatus.ARCHIVED.value:
                return ProductRead.from_doc(doc)
            updated = await _apply(
                db,
                cache,
                doc,
                {"status": ProductStatus.ARCHIVED.value},
                lambda after: [events.product_archived(after)],
            )
            if updated is not None:
                return updated
        raise _kept_changing()


async def set_price(
    *,
    db: Db,
    cache: ProductCache | None,
    product_id: str,
    price: MoneyInput,
    principal: Principal,
) -> ProductRead:
    new_price = price.money().to_doc()
    async with product_lease(db, product_id):
        async for doc in _attempts(db, product_id):
            _authorize_product(principal, doc)
            old_price = doc["price"]
            if old_price == new_price:
                return ProductRead.from_doc(doc)
            updated = await _apply(
                db,
                cache,
                doc,
                {"price": new_price},
                lambda after, old=old_price: [events.price_changed(after, old_price=old)],
            )
            if updated is not None:
                return updated
        raise _kept_changing()


async def upsert_listing(
    *,
    db: Db,
    cache: ProductCache | None,
    product_id: str,
    data: ListingInput,
    principal: Principal,
) -> ProductRead:
    """Add or replace ``data.seller_id``'s listing on a product (one listing per seller)."""
    _require_own_seller_id(principal, data.seller_id, field=["input", "sellerId"])
    await _require_seller(db, data.seller_id, field=["input", "sellerId"])
    listing = {
        "seller_id": data.seller_id,
        "sku": data.sku,
        "price": data.price.money().to_doc(),
        "availability": data.availability.value,
    }
    async with product_lease(db, product_id):
        claimed = False
        try:
            async for doc in _attempts(db, product_id):
                listings: list[dict[str, Any]] = doc.get("listings", [])
                others = [item for item in listings if item["seller_id"] != data.seller_id]
                current = next((i for i in listings if i["seller_id"] == data.seller_id), None)
                if data.sku in {doc["sku"], *(item["sku"] for item in others)}:
                    raise _sku_taken(["input", "sku"])
                if current is None and len(others) >= MAX_LISTINGS:
                    raise Conflict(
                        "TOO_MANY_LISTINGS",
                        f"a product has at most {MAX_LISTINGS} listings",
                        ["productId"],
                    )
                if current is not None and {key: current[key] for key in listing} == listing:
                    return ProductRead.from_doc(doc)
                if not claimed:
                    claimed = await SKUS.claim(db, data.sku, product_id, field=["input", "sku"])
                updated_listings = sorted(
                    [*others, {**listing, "updated_at": now()}], key=lambda item: item["seller_id"]
                )
                updated = await _apply(
                    db,
                    cache,
                    doc,
                    {"listings": updated_listings},
                    lambda after: [events.product_updated(after)],
                )
                if updated is not None:
                    if current is not None and current["sku"] != data.sku:
                        await SKUS.release(db, [current["sku"]], product_id)
                    return updated
            raise _kept_changing()
        except BaseException:
            if claimed:
                await asyncio.shield(SKUS.release(db, [data.sku], product_id))
            raise


async def remove_listing(
    *,
    db: Db,
    cache: ProductCache | None,
    product_id: str,
    seller_id: str,
    principal: Principal,
) -> ProductRead:
    _require_own_seller_id(principal, seller_id, field=["sellerId"])
    async with product_lease(db, product_id):
        async for doc in _attempts(db, product_id):
            listings = doc.get("listings", [])
            removed = [item for item in listings if item["seller_id"] == seller_id]
            if not removed:
                raise NotFound(
                    "LISTING_NOT_FOUND", "this seller has no listing on the product", ["sellerId"]
                )
            kept = [item for item in listings if item["seller_id"] != seller_id]
            updated = await _apply(
                db, cache, doc, {"listings": kept}, lambda after: [events.product_updated(after)]
            )
            if updated is not None:
                await SKUS.release(db, [item["sku"] for item in removed], product_id)
                return updated
        raise _kept_changing()


# ------------------------------------------------------------------------------ category reads

# Deleted categories stay as tombstones until the relay has published their CategoryChanged
# (the event must live in a document); every read skips them.
_LIVE: dict[str, Any] = {"deleted": {"$ne": True}}


async def get_categories(*, db: Db, ids: Sequence[str]) -> dict[str, CategoryRead]:
    cursor = db[CATEGORIES].find({"_id": {"$in": list(set(ids))}, **_LIVE}, _CATEGORY_PROJECTION)
    return {doc["_id"]: CategoryRead.from_doc(doc) async for doc in cursor}


async def get_category_by_slug(*, db: Db, slug: str) -> CategoryRead | None:
    doc = await db[CATEGORIES].find_one({"slug": slug, **_LIVE}, _CATEGORY_PROJECTION)
    return CategoryRead.from_doc(doc) if doc else None


async def list_children(*, db: Db, parent_id: str | None) -> list[CategoryRead]:
    """Children of ``parent_id`` by name; the roots when ``parent_id`` is ``None``."""
    cursor = (
        db[CATEGORIES]
        .find({"parent_id": parent_id, **_LIVE}, _CATEGORY_PROJECTION)
        .sort("name", ASCENDING)
    )
    return [CategoryRead.from_doc(doc) async for doc in cursor]


async def children_of(*, db: Db, parent_ids: Sequence[str]) -> dict[str, list[CategoryRead]]:
    """Children (by name) of several categories in one query."""
    found: dict[str, list[CategoryRead]] = {parent: [] for parent in parent_ids}
    cursor = (
        db[CATEGORIES]
        .find({"parent_id": {"$in": list(found)}, **_LIVE}, _CATEGORY_PROJECTION)
        .sort("name", ASCENDING)
    )
    async for doc in cursor:
        found[doc["parent_id"]].append(CategoryRead.from_doc(doc))
    return found


async def subtree_ids(*, db: Db, category_id: str) -> list[str]:
    """``category_id`` first, then every category below it (empty if it does not exist)."""
    cursor = db[CATEGORIES].find(
        {"$or": [{"_id": category_id}, {"ancestors": category_id}], **_LIVE}, {"_id": 1}
    )
    ids = [doc["_id"] async for doc in cursor]
    return sorted(ids, key=lambda i: i != category_id)


# ----------------------------------------------------------------------------- category writes


def tree_lock(db: Db) -> AbstractAsyncContextManager[None]:
    """Serialises structural category changes (create, move, delete, repair)."""
    return lease(
        db,
        "category-tree",
        busy=Conflict("CATEGORY_TREE_BUSY", "another category change is in progress; retry"),
    )


def _node(doc: dict[str, Any]) -> TreeNode:
    return TreeNode(
        id=doc["_id"], parent_id=doc.get("parent_id"), ancestors=tuple(doc.get("ancestors", []))
    )


async def _load_category_doc(db: Db, category_id: str, *, field: list[str | int]) -> dict[str, Any]:
    doc = await db[CATEGORIES].find_one({"_id": category_id, **_LIVE}, _CATEGORY_PROJECTION)
    if doc is None:
        raise NotFound("CATEGORY_NOT_FOUND", "no such category", field)
    return doc


async def _category_duplicate(db: Db, category_id: str, name: str) -> Conflict:
    """Which unique value clashed: FerretDB's duplicate-key error does not name the index."""
    if await db[CATEGORIES].count_documents({"name": name, "_id": {"$ne": category_id}}, limit=1):
        return Conflict("NAME_TAKEN", "a category with this name exists", ["input", "name"])
    return Conflict("SLUG_TAKEN", "a category with this slug exists", ["input", "slug"])


async def _category_apply(
    db: Db,
    doc: dict[str, Any],
    changes: dict[str, Any],
    change: events.CategoryChange,
    *,
    event_view: dict[str, Any] | None = None,
) -> CategoryRead | None:
    """Versioned single-document update of a category with its CategoryChanged event.
    ``event_view`` overrides what the event reports (a tombstone reports the old name)."""
    changes = {**changes, "version": doc["version"] + 1, "updated_at": now()}
    after = CategoryRead.from_doc({**doc, **changes})
    reported = CategoryRead.from_doc({**doc, **changes, **(event_view or {})})
    update = with_events({"$set": changes}, [events.category_changed(reported, change=change)])
    try:
        result = await db[CATEGORIES].update_one(
            {"_id": doc["_id"], "version": doc["version"]}, update
        )
    except DuplicateKeyError:
        raise await _category_duplicate(db, doc["_id"], after.name) from None
    return after if result.matched_count else None


async def repair_category_paths(*, db: Db) -> int:
    """Re-derive every ``ancestors`` list from the ``parent_id`` chain and purge tombstones
    whose events are published. Returns how many categories were fixed; each fix is its own
    versioned update with a CategoryChanged(MOVED)."""
    await db[CATEGORIES].delete_many({"deleted": True, "outbox.id": {"$exists": False}})
    docs = {d["_id"]: d async for d in db[CATEGORIES].find(_LIVE, _CATEGORY_PROJECTION)}

    def chain(category_id: str) -> list[str]:
        path: list[str] = []
        parent = docs[category_id].get("parent_id")
        while parent is not None and parent in docs and parent not in path:
            path.append(parent)
            parent = docs[parent].get("parent_id")
        return path[::-1]

    fixed = 0
    for category_id, doc in docs.items():
        expected = chain(category_id)
        if list(doc.get("ancestors", [])) != expected:
            if await _category_apply(db, doc, {"ancestors": expected}, "MOVED") is None:
                raise Conflict(
                    "CONCURRENT_MODIFICATION", "a category changed during the repair; retry"
                )
            fixed += 1
    return fixed


async def create_category(*, db: Db, data: CategoryCreate) -> CategoryRead:
    async with tree_lock(db):
        await repair_category_paths(db=db)
        parent = None
        if data.parent_id is not None:
            parent = _node(
                await _load_category_doc(db, data.parent_id, field=["input", "parentId"])
            )
        ancestors = ancestors_for_child_of(parent)
        check_depth(ancestors, field=["input", "parentId"])
        moment = now()
        doc: dict[str, Any] = {
            "_id": new_id(),
            "name": data.name,
            "slug": data.slug or slugify(data.name),
            "parent_id": data.parent_id,
            "ancestors": list(ancestors),
            "version": 1,
            "created_at": moment,
            "updated_at": moment,
        }
        category = CategoryRead.from_doc(doc)
        try:
            await db[CATEGORIES].insert_one(
                with_outbox(doc, [events.category_changed(category, change="CREATED")])
            )
        except DuplicateKeyError:
            raise await _category_duplicate(db, category.id, category.name) from None
        return category


async def update_category(*, db: Db, category_id: str, data: CategoryUpdate) -> CategoryRead:
    async with tree_lock(db):  # category writes are rare: one lease for all of them
        return await _update_category(db, category_id, data)


async def _update_category(db: Db, category_id: str, data: CategoryUpdate) -> CategoryRead:
    for _ in range(_CAS_ATTEMPTS):
        doc = await _load_category_doc(db, category_id, field=["id"])
        changes = {
            key: value
            for key, value in data.model_dump(exclude_none=True).items()
            if doc.get(key) != value
        }
        if not changes:
            return CategoryRead.from_doc(doc)
        updated = await _category_apply(db, doc, changes, "UPDATED")
        if updated is not None:
            return updated
    raise Conflict("CONCURRENT_MODIFICATION", "the category kept changing concurrently; retry")


async def move_category(*, db: Db, category_id: str, parent_id: str | None) -> CategoryRead:
    """Re-parent a category; its subtree follows. Moving under itself or a descendant is
    rejected (CATEGORY_CYCLE), as is a move that would nest deeper than the limit."""
    async with tree_lock(db):
        await repair_category_paths(db=db)
        doc = await _load_category_doc(db, category_id, field=["id"])
        parent = None
        if parent_id is not None:
            parent = _node(await _load_category_doc(db, parent_id, field=["parentId"]))
        node = _node(doc)
        check_move(node, parent, field=["parentId"])
        if node.parent_id == parent_id:
            return CategoryRead.from_doc(doc)
        descendants = [
            _node(d)
            async for d in db[CATEGORIES].find(
                {"ancestors": category_id, **_LIVE}, {"ancestors": 1}
            )
        ]
        ancestors = ancestors_for_child_of(parent)
        check_depth(
            ancestors,
            subtree_height=subtree_height(category_id, descendants),
            field=["parentId"],
        )
        moved = await _category_apply(
            db, doc, {"parent_id": parent_id, "ancestors": list(ancestors)}, "MOVED"
        )
        if moved is None:
            raise Conflict("CONCURRENT_MODIFICATION", "the category changed concurrently; retry")
        # the subtree's ancestor lists now disagree with the parent chain: re-derive them
        await repair_category_paths(db=db)
        return moved


async def delete_category(*, db: Db, category_id: str) -> str:
    """Delete an empty leaf category. The document becomes a tombstone carrying the
    CategoryChanged(DELETED) event (its unique name and slug freed) until it is published."""
    async with tree_lock(db):
        doc = await _load_category_doc(db, category_id, field=["id"])
        if await db[CATEGORIES].count_documents({"parent_id": category_id, **_LIVE}, limit=1):
            raise Conflict(
                "CATEGORY_HAS_CHILDREN",
                "the category has child categories; move or delete them first",
                ["id"],
            )
        if await db[PRODUCTS].count_documents({"category_id": category_id}, limit=1):
            raise Conflict(
                "CATEGORY_HAS_PRODUCTS",
                "products still belong to the category; move or archive them first",
                ["id"],
            )
        tombstone = {
            "deleted": True,
            "name": f"~deleted~{category_id}",
            "slug": f"deleted-{category_id.lower()}",
        }
        deleted = await _category_apply(
            db,
            doc,
            tombstone,
            "DELETED",
            event_view={"name": doc["name"], "slug": doc["slug"]},
        )
        if deleted is None:
            raise Conflict("CONCURRENT_MODIFICATION", "the category changed concurrently; retry")
        return category_id
