"""Seller listings: the offers embedded in a product, one per seller.

A listing lives inside its product, so adding, replacing or removing one is a write of the
product (one leased, versioned write with its ProductUpdated event). Its SKU is claimed in
``sku_claims`` before the write and released when the write fails or the SKU is let go.
"""

from __future__ import annotations

import asyncio
from typing import Any

from emporium_kit.auth import Principal
from emporium_kit.documents import ChangeResult, now
from emporium_kit.errors import Conflict, NotFound

from emporium_catalog import events
from emporium_catalog.cache import ProductCache
from emporium_catalog.models import MAX_LISTINGS, ListingInput, ProductRead
from emporium_catalog.products import (
    SKUS,
    Doc,
    product_change,
    require_own_seller_id,
    sku_taken,
    write_product,
)
from emporium_catalog.sellers import require_seller
from emporium_catalog.store import CatalogDb


async def upsert_listing(
    *,
    db: CatalogDb,
    cache: ProductCache | None,
    product_id: str,
    data: ListingInput,
    principal: Principal,
) -> ProductRead:
    """Add or replace ``data.seller_id``'s listing on a product (one listing per seller)."""
    require_own_seller_id(principal, data.seller_id, field=["input", "sellerId"])
    await require_seller(db=db, seller_id=data.seller_id, field=["input", "sellerId"])
    listing = {
        "seller_id": data.seller_id,
        "sku": data.sku,
        "price": data.price.money().to_doc(),
        "availability": data.availability.value,
    }
    claimed = False  # this call made the SKU's claim: it gives it back if the write fails
    replaced: list[dict[str, Any]] = []

    async def change(doc: Doc) -> ChangeResult:
        nonlocal claimed
        listings: list[dict[str, Any]] = doc.get("listings", [])
        others = [item for item in listings if item["seller_id"] != data.seller_id]
        current = next((i for i in listings if i["seller_id"] == data.seller_id), None)
        if data.sku in {doc["sku"], *(item["sku"] for item in others)}:
            raise sku_taken(["input", "sku"])
        if current is None and len(others) >= MAX_LISTINGS:
            raise Conflict(
                "TOO_MANY_LISTINGS",
                f"a product has at most {MAX_LISTINGS} listings",
                ["productId"],
            )
        if current is not None and {key: current[key] for key in listing} == listing:
            return None
        if not claimed:
            claimed = await SKUS.claim(
                db.raw, data.sku, product_id, field=["input", "sku"], leases=db.leases
            )
        replaced[:] = [current] if current is not None else []
        updated = sorted(
            [*others, {**listing, "updated_at": now()}], key=lambda item: item["seller_id"]
        )
        return product_change(doc, {"listings": updated}, lambda a: [events.product_updated(a)])

    try:
        product = await write_product(db=db, cache=cache, product_id=product_id, change=change)
    except BaseException:
        if claimed:
            await asyncio.shield(SKUS.release(db.raw, [data.sku], product_id))
        raise
    if replaced and replaced[0]["sku"] != data.sku:
        await SKUS.release(db.raw, [replaced[0]["sku"]], product_id)
    return product


async def remove_listing(
    *,
    db: CatalogDb,
    cache: ProductCache | None,
    product_id: str,
    seller_id: str,
    principal: Principal,
) -> ProductRead:
    require_own_seller_id(principal, seller_id, field=["sellerId"])
    removed: list[dict[str, Any]] = []

    def change(doc: Doc) -> ChangeResult:
        listings = doc.get("listings", [])
        removed[:] = [item for item in listings if item["seller_id"] == seller_id]
        if not removed:
            raise NotFound(
                "LISTING_NOT_FOUND", "this seller has no listing on the product", ["sellerId"]
            )
        kept = [item for item in listings if item["seller_id"] != seller_id]
        return product_change(doc, {"listings": kept}, lambda a: [events.product_updated(a)])

    product = await write_product(db=db, cache=cache, product_id=product_id, change=change)
    await SKUS.release(db.raw, [item["sku"] for item in removed], product_id)
    return product
