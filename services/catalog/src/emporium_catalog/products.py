"""Products: reads, creation and the changes of a product's own fields.

Plain async functions, keyword-only, store first (``get_product(*, db, cache, product_id)``).
Every change is ONE leased, versioned single-document write carrying its events
(``db.products.update``); a rejected call is rejected before anything is written:
validation, authorisation and existence checks come first.

SKU uniqueness (a product's SKU and every listing's) lives in ``sku_claims``, slug
uniqueness in ``slug_claims``: claim first, then write the product, release on failure; a
leftover claim is taken over once it is older than ``CLAIM_GRACE`` and its product does not
hold the value.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emporium_kit.auth import Principal
from emporium_kit.documents import ChangeResult, now
from emporium_kit.errors import Conflict, Forbidden, NotFound
from emporium_kit.events.envelope import Event
from pymongo.errors import DuplicateKeyError

from emporium_catalog import events
from emporium_catalog.cache import MISSING, ProductCache
from emporium_catalog.categories import LIVE, subtree_ids
from emporium_catalog.claims import UniqueClaims
from emporium_catalog.domain import (
    Cursor,
    ProductSort,
    ProductStatus,
    derived_availability,
    keyset_filter,
    slugify,
    sort_spec,
)
from emporium_catalog.models import (
    MoneyInput,
    ProductCreate,
    ProductFilterInput,
    ProductRead,
    ProductUpdate,
)
from emporium_catalog.sellers import require_seller
from emporium_catalog.store import PRODUCTS, SKU_CLAIMS, SLUG_CLAIMS, CatalogDb, new_id

Doc = dict[str, Any]

# Fields a ProductRead never needs: the outbox, the derived lookup keys, the stock levels.
_PRODUCT_PROJECTION = {"outbox": 0, "skus": 0, "name_key": 0, "brand_key": 0, "stock": 0}
# concurrent `_id` reads of one entity batch: enough to overlap FerretDB's round trips,
# few enough to leave connections in the pool for other requests
ID_READ_CONCURRENCY = 16


def sku_taken(field: list[str | int]) -> Conflict:
    return Conflict("SKU_TAKEN", "this SKU is already in the catalog", field)


def _slug_taken(field: list[str | int]) -> Conflict:
    return Conflict("SLUG_TAKEN", "this slug is taken", field)


SKUS = UniqueClaims(
    collection=SKU_CLAIMS,
    products=PRODUCTS,
    projection={"skus": 1},
    holds=lambda product, sku: sku in product.get("skus", []),
    taken=sku_taken,
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


async def ensure_slug_claims(*, db: CatalogDb) -> None:
    """Claim the slug of every product that has none (once per database)."""
    claims = db.raw[SLUG_CLAIMS]
    if await claims.find_one({"_id": _SLUGS_BACKFILLED}) is not None:
        return
    owner_of = {doc["slug"]: doc["_id"] for doc in await db.products.find({}, {"slug": 1})}
    await SLUGS.claim_all(db.raw, owner_of)
    with contextlib.suppress(DuplicateKeyError):
        await claims.insert_one({"_id": _SLUGS_BACKFILLED, "at": now()})


# ------------------------------------------------------------------------------------ reads


async def get_products(
    *, db: CatalogDb, cache: ProductCache | None, ids: Sequence[str]
) -> dict[str, ProductRead]:
    """Products by id: one MGET, then concurrent ``_id`` reads for the misses, then one
    cache fill. Never ``$in``: FerretDB 1.24 answers a lone ``{"_id": value}`` from its index
    but scans the whole collection for ``$in`` (about 155 ms for 20 ids on the demo catalog
    against 1-3 ms per ``_id`` read), so a page of search hits stays independent of the
    catalog's size."""
    wanted = list(dict.fromkeys(ids))
    found = await cache.get_many(wanted) if cache else {}
    missing = [i for i in wanted if i not in found]
    if missing:
        gate = asyncio.Semaphore(ID_READ_CONCURRENCY)

        async def read(product_id: str) -> Doc | None:
            async with gate:
                return await db.products.find_one({"_id": product_id}, _PRODUCT_PROJECTION)

        docs = await asyncio.gather(*(read(i) for i in missing))
        loaded = [ProductRead.from_doc(doc) for doc in docs if doc is not None]
        if cache:
            await cache.store_many(loaded)
        found.update((p.id, p) for p in loaded)
    return found


async def get_product(
    *, db: CatalogDb, cache: ProductCache | None, product_id: str
) -> ProductRead | None:
    return (await get_products(db=db, cache=cache, ids=[product_id])).get(product_id)


async def get_product_by_slug(
    *, db: CatalogDb, cache: ProductCache | None, slug: str
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
    holder = await SLUGS.holder(db.raw, slug)
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


async def _product_query(db: CatalogDb, flt: ProductFilterInput) -> dict[str, Any] | None:
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
    db: CatalogDb,
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
    docs = await db.products.find(
        page_query, _PRODUCT_PROJECTION, sort=sort_spec(sort), limit=first + 1
    )
    items = [ProductRead.from_doc(doc) for doc in docs[:first]]
    return ProductPage(items=items, has_next=len(docs) > first, query=query)


async def count_products(*, db: CatalogDb, query: dict[str, Any]) -> int:
    return await db.products.count(query)


# ----------------------------------------------------------------------------------- writes


def require_own_seller_id(
    principal: Principal, seller_id: str | None, *, field: list[str | int]
) -> None:
    """Sellers act only for their own ``seller_id``; admins act for anyone."""
    if principal.is_admin:
        return
    if principal.seller_id is None or principal.seller_id != seller_id:
        raise Forbidden(
            "NOT_YOUR_SELLER_ACCOUNT", "sellers may only act for their own seller account", field
        )


def _authorize_product(principal: Principal, doc: Doc) -> None:
    if principal.is_admin:
        return
    owner = doc.get("owner_seller_id")
    if owner is None or principal.seller_id != owner:
        raise Forbidden(
            "NOT_PRODUCT_OWNER",
            "only the owning seller or an admin may change this product",
            ["id"],
        )


async def _require_category(db: CatalogDb, category_id: str, *, field: list[str | int]) -> None:
    if not await db.categories.exists({"_id": category_id, **LIVE}):
        raise NotFound("CATEGORY_NOT_FOUND", "no such category", field)


def _skus(doc: Doc) -> list[str]:
    return [doc["sku"], *(listing["sku"] for listing in doc.get("listings", []))]


def product_change(
    doc: Doc, changes: dict[str, Any], make_events: Callable[[Doc], list[Event[Any]]]
) -> ChangeResult:
    """What ``db.products.update`` writes for ``changes`` to ``doc``: the fields, the derived
    ones, and the events, built from the document as it will be stored after the write."""
    changes = {**changes, "updated_at": now()}
    # an offer the inventory tracks reads as its stock says, whoever writes the product
    changes.update(derived_availability({**doc, **changes}))
    if "listings" in changes:
        changes["skus"] = _skus({**doc, **changes})
    return changes, make_events({**doc, **changes, "version": doc["version"] + 1})


ProductChange = Callable[[Doc], ChangeResult | Awaitable[ChangeResult]]


async def write_product(
    *,
    db: CatalogDb,
    cache: ProductCache | None,
    product_id: str,
    change: ProductChange,
    expected_version: int | None = None,
) -> ProductRead:
    """``db.products.update`` plus what every product write needs after it: the error for a
    slug taken meanwhile, and the cache entries of the old and new slug invalidated."""
    before: list[Doc] = []

    async def tracked(doc: Doc) -> ChangeResult:
        before[:] = [doc]
        outcome = change(doc)
        return await outcome if inspect.isawaitable(outcome) else outcome

    try:
        written = await db.products.update(
            product_id,
            tracked,
            expected_version=expected_version,
            expected_version_at=["input", "expectedVersion"],
        )
    except DuplicateKeyError:
        raise _slug_taken(["input", "slug"]) from None
    product = ProductRead.from_doc(written)
    if cache and before and before[0]["version"] != product.version:
        await cache.invalidate(product.id, product.version, {before[0]["slug"], product.slug})
    return product


async def create_product(
    *, db: CatalogDb, cache: ProductCache | None = None, data: ProductCreate, principal: Principal
) -> ProductRead:
    owner = data.owner_seller_id
    if not principal.is_admin:
        owner = owner or principal.seller_id
        require_own_seller_id(principal, owner, field=["input", "ownerSellerId"])
    await _require_category(db, data.category_id, field=["input", "categoryId"])
    if owner is not None:
        await require_seller(db=db, seller_id=owner, field=["input", "ownerSellerId"])
    product_id = new_id()
    slug = await _claim_new_slug(db, data, product_id)
    doc = product_document(
        product_id=product_id, slug=slug, data=data, owner_seller_id=owner, moment=now()
    )
    product = ProductRead.from_doc(doc)
    try:
        await SKUS.claim(db.raw, data.sku, product_id, field=["input", "sku"], leases=db.leases)
        try:
            await db.products.insert(doc, [events.product_created(doc)])
        except DuplicateKeyError:
            # the slug index of a product written before slug claims existed
            await asyncio.shield(SKUS.release(db.raw, [data.sku], product_id))
            raise _slug_taken(["input", "slug"]) from None
        except BaseException:
            await asyncio.shield(SKUS.release(db.raw, [data.sku], product_id))
            raise
    except BaseException:
        await asyncio.shield(SLUGS.release(db.raw, [slug], product_id))
        raise
    if cache:
        await cache.forget_slug(slug)  # a "no such slug" remembered before this write
    return product


async def _claim_new_slug(db: CatalogDb, data: ProductCreate, product_id: str) -> str:
    """The requested slug, or one made from the name (with the id's tail when taken)."""
    if data.slug is not None:
        await SLUGS.claim(db.raw, data.slug, product_id, field=["input", "slug"], leases=db.leases)
        return data.slug
    slug = slugify(data.name) or product_id.lower()
    try:
        await SLUGS.claim(db.raw, slug, product_id, field=["input", "name"], leases=db.leases)
    except Conflict:
        slug = f"{slug[:100]}-{product_id[-8:].lower()}"
        await SLUGS.claim(db.raw, slug, product_id, field=["input", "name"], leases=db.leases)
    return slug


def product_document(
    *,
    product_id: str,
    slug: str,
    data: ProductCreate,
    owner_seller_id: str | None,
    moment: datetime,
    listings: Sequence[dict[str, Any]] = (),
) -> Doc:
    """The stored shape of a new product (also used by the seed's bulk insert)."""
    doc: Doc = {
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


async def update_product(
    *,
    db: CatalogDb,
    cache: ProductCache | None,
    product_id: str,
    data: ProductUpdate,
    principal: Principal,
) -> ProductRead:
    fields = data.model_dump(mode="json", exclude_unset=True, exclude={"expected_version"})
    if "category_id" in fields:
        await _require_category(db, fields["category_id"], field=["input", "categoryId"])
    claimed: list[str] = []  # the new slug, claimed before the write that takes it
    old_slug: list[str] = []

    async def change(doc: Doc) -> ChangeResult:
        _authorize_product(principal, doc)
        changes = {key: value for key, value in fields.items() if doc.get(key) != value}
        if "name" in changes:
            changes["name_key"] = changes["name"].casefold()
        if "brand" in changes:
            changes["brand_key"] = changes["brand"].casefold()
        if not changes:
            return None
        new_slug = changes.get("slug")
        if new_slug is not None and not claimed:
            await SLUGS.claim(
                db.raw, new_slug, product_id, field=["input", "slug"], leases=db.leases
            )
            claimed.append(new_slug)
        old_slug[:] = [doc["slug"]]
        return product_change(doc, changes, lambda after: [events.product_updated(after)])

    try:
        product = await write_product(
            db=db,
            cache=cache,
            product_id=product_id,
            change=change,
            expected_version=data.expected_version,
        )
    except BaseException:
        if claimed:
            await asyncio.shield(SLUGS.release(db.raw, claimed, product_id))
        raise
    if claimed and product.slug == claimed[0]:
        await SLUGS.release(db.raw, old_slug, product_id)
    return product


async def archive_product(
    *, db: CatalogDb, cache: ProductCache | None, product_id: str, principal: Principal
) -> ProductRead:
    """Archive (soft-delete) a product; archiving an archived product changes nothing."""

    def change(doc: Doc) -> ChangeResult:
        _authorize_product(principal, doc)
        if doc["status"] == ProductStatus.ARCHIVED.value:
            return None
        return product_change(
            doc,
            {"status": ProductStatus.ARCHIVED.value},
            lambda after: [events.product_archived(after)],
        )

    return await write_product(db=db, cache=cache, product_id=product_id, change=change)


async def set_price(
    *,
    db: CatalogDb,
    cache: ProductCache | None,
    product_id: str,
    price: MoneyInput,
    principal: Principal,
) -> ProductRead:
    new_price = price.money().to_doc()

    def change(doc: Doc) -> ChangeResult:
        _authorize_product(principal, doc)
        old_price = doc["price"]
        if old_price == new_price:
            return None
        return product_change(
            doc,
            {"price": new_price},
            lambda after: [events.price_changed(after, old_price=old_price)],
        )

    return await write_product(db=db, cache=cache, product_id=product_id, change=change)
