"""Values unique across products (SKUs, slugs), enforced exactly on FerretDB and MongoDB.

One claim document per value, keyed by the value itself (``_id``), naming the product that
holds it. An insert on ``_id`` is atomic on both stores, and a lookup by ``_id`` is the one
query FerretDB 1.24 answers from an index instead of decoding the whole collection, so a
claim collection is both the uniqueness guard and the index for lookups by value (a product
page by slug is two ``_id`` reads).

Claim first, then write the product, release on failure. A crash in between leaves a claim
whose product does not hold the value; it is taken over once older than :data:`CLAIM_GRACE`.
FerretDB 1.24 applies a conditional update as an unguarded read-modify-write, so a
compare-and-set takeover would let several concurrent claimants win one stale claim. A takeover
therefore holds the claim's lease (the kit's, the same that guards every product write) while
it re-reads the claim, re-checks it and rewrites it: one claimant at a time decides, and the
first one's takeover makes the claim fresh for every one after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from emporium_kit.documents import Leases
from emporium_kit.errors import Conflict
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

Db = AsyncDatabase[dict[str, Any]]

# A claim younger than this whose product does not hold the value belongs to a write in
# flight; an older one is the leftover of a failed write and may be taken over.
CLAIM_GRACE = timedelta(seconds=30)
_ATTEMPTS = 5
_BULK = 1000


@dataclass(frozen=True)
class UniqueClaims:
    """Claims on one kind of value: ``collection`` of claims, the ``products`` collection,
    the product fields that show whether a product holds a value (``projection``, ``holds``)
    and the error for a value held by another product (``taken(field)``)."""

    collection: str
    products: str
    projection: Mapping[str, int]
    holds: Callable[[Mapping[str, Any], str], bool]
    taken: Callable[[list[str | int]], Conflict]
    now: Callable[[], datetime]

    async def claim(
        self, db: Db, value: str, product_id: str, *, field: list[str | int], leases: Leases
    ) -> bool:
        """Reserve ``value`` for ``product_id`` before the product write that uses it.

        ``True`` when this call made the claim (the caller releases it if its write fails),
        ``False`` when the product already held it; raises ``taken`` when another product
        holds it or may be about to. ``leases`` are the store's, for the takeover.
        """
        claims = db[self.collection]
        for _ in range(_ATTEMPTS):
            try:
                await claims.insert_one(
                    {"_id": value, "product_id": product_id, "claimed_at": self.now()}
                )
                return True
            except DuplicateKeyError:
                claim = await claims.find_one({"_id": value})
            if claim is None:
                continue  # released in between: try again
            if not await self._may_take_over(db, claim, value, product_id, field):
                return False
            lease_name = f"{self.collection}:{value}"
            async with leases.hold(lease_name, busy=lambda: self.taken(field)) as lease:
                claim = await claims.find_one({"_id": value})
                if claim is None:
                    continue
                if not await self._may_take_over(db, claim, value, product_id, field):
                    return False
                lease.check()
                taken = await claims.update_one(
                    {
                        "_id": value,
                        "product_id": claim["product_id"],
                        "claimed_at": claim["claimed_at"],
                    },
                    {"$set": {"product_id": product_id, "claimed_at": self.now()}},
                )
                if taken.modified_count == 1:
                    return True
        raise self.taken(field)

    async def _may_take_over(
        self, db: Db, claim: Mapping[str, Any], value: str, product_id: str, field: list[str | int]
    ) -> bool:
        """Whether ``claim`` may be taken over: ``False`` when it is ``product_id``'s own,
        raises ``taken`` when its product holds the value or its write may be in flight."""
        if claim["product_id"] == product_id:
            return False
        holder = await db[self.products].find_one(
            {"_id": claim["product_id"]}, dict(self.projection)
        )
        if holder is not None and self.holds(holder, value):
            raise self.taken(field)
        if claim["claimed_at"] > self.now() - CLAIM_GRACE:
            raise self.taken(field)
        return True

    async def release(self, db: Db, values: Iterable[str], product_id: str) -> None:
        """Drop ``product_id``'s claims on ``values`` (after a failed write, or values it no
        longer uses). A crash before this leaves a claim that :meth:`claim` takes over."""
        values = list(values)
        for value in values:
            # one _id delete each: FerretDB scans the collection for $in
            await db[self.collection].delete_one({"_id": value, "product_id": product_id})

    async def holder(self, db: Db, value: str) -> str | None:
        """The product id claiming ``value`` (it may be a write in flight: check the product)."""
        claim = await db[self.collection].find_one({"_id": value}, {"product_id": 1})
        return claim["product_id"] if claim else None

    async def claim_all(self, db: Db, owner_of: Mapping[str, str]) -> set[str]:
        """Bulk :meth:`claim` for loaders: ``{value: product id}``. Returns the products whose
        values another product claims (skip them); claims already theirs count as made."""
        moment = self.now()
        claims = [
            {"_id": v, "product_id": pid, "claimed_at": moment} for v, pid in owner_of.items()
        ]
        duplicates: list[str] = []
        for start in range(0, len(claims), _BULK):
            try:
                await db[self.collection].insert_many(claims[start : start + _BULK], ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(err.get("code") != 11000 for err in errors):
                    raise
                duplicates += [claims[start + err["index"]]["_id"] for err in errors]
        blocked: set[str] = set()
        for start in range(0, len(duplicates), _BULK):
            cursor = db[self.collection].find({"_id": {"$in": duplicates[start : start + _BULK]}})
            async for claim in cursor:
                if claim["product_id"] != owner_of[claim["_id"]]:
                    blocked.add(owner_of[claim["_id"]])
        return blocked
