"""Sellers: created by admins, written once, read by listings and the seller filter."""

from __future__ import annotations

from collections.abc import Sequence

from emporium_kit.documents import now
from emporium_kit.errors import Conflict, NotFound
from pymongo.errors import DuplicateKeyError

from emporium_catalog.domain import slugify
from emporium_catalog.models import SellerCreate, SellerRead
from emporium_catalog.store import CatalogDb, new_id


async def create_seller(*, db: CatalogDb, data: SellerCreate) -> SellerRead:
    doc = {
        "_id": new_id(),
        "name": data.name,
        "slug": data.slug or slugify(data.name),
        "created_at": now(),
    }
    try:
        await db.sellers.insert_one(doc)
    except DuplicateKeyError:
        raise Conflict("SLUG_TAKEN", "a seller with this slug exists", ["input", "slug"]) from None
    return SellerRead.from_doc(doc)


async def list_sellers(*, db: CatalogDb) -> list[SellerRead]:
    docs = await db.sellers.find({}, sort=[("name", 1)], limit=1000)
    return [SellerRead.from_doc(doc) for doc in docs]


async def get_sellers(*, db: CatalogDb, ids: Sequence[str]) -> dict[str, SellerRead]:
    docs = await db.sellers.find({"_id": {"$in": list(set(ids))}})
    return {doc["_id"]: SellerRead.from_doc(doc) for doc in docs}


async def require_seller(*, db: CatalogDb, seller_id: str, field: list[str | int]) -> None:
    if await db.sellers.get(seller_id, {"_id": 1}) is None:
        raise NotFound("SELLER_NOT_FOUND", "no such seller", field)
