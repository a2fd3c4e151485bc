"""Use cases of stock and reservations: plain async functions, keyword-only, the store first.

Every write is ``Documents.update`` / ``insert`` (the kit's guarded write path): under the
SKU's (or the reservation's) lease, one single-document write with its events. A SKU's
``on_hand - reserved`` therefore never goes below zero, on FerretDB as on MongoDB.

A reservation holds all its lines or none. Lines are taken in SKU order (no two reservations
wait on each other in a cycle); when one cannot be held, those already held are released
before the failure is written. Holds are keyed by the reservation's id in each SKU's
document, so taking or releasing one twice changes nothing: a redelivered event or a restarted
writer resumes where the last one stopped.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from emporium_kit.auth import Principal
from emporium_kit.documents import now
from emporium_kit.errors import Conflict, Forbidden, NotFound
from pymongo.errors import DuplicateKeyError

from emporium_inventory import events
from emporium_inventory.models import (
    MAX_ON_HAND,
    ReservationLine,
    ReservationRead,
    ReservationStatus,
    ReserveRequest,
    StockAdjust,
    StockRead,
)
from emporium_inventory.store import InventoryDb

Doc = dict[str, Any]
Outcome = tuple[dict[str, Any], list[Any]] | None

# statuses a reservation never leaves
SETTLED = {
    ReservationStatus.COMMITTED,
    ReservationStatus.RELEASED,
    ReservationStatus.FAILED,
    ReservationStatus.RETURNED,
}


class OutOfStock(Conflict):
    def __init__(self, sku: str, requested: int, available: int) -> None:
        super().__init__(
            "OUT_OF_STOCK",
            f"only {max(available, 0)} of SKU {sku} available, {requested} requested",
            ["lines"],
        )
        self.sku = sku


# -- stock ----------------------------------------------------------------------------------


def demo_quantity(sku: str) -> int:
    """The demo's starting quantity of ``sku``: deterministic, mostly 5-100, about 7% low
    (1-3) and 3% out of stock."""
    digest = int.from_bytes(hashlib.sha256(sku.encode()).digest()[:8], "big")
    bucket, rest = digest % 100, digest // 100
    if bucket < 3:
        return 0
    if bucket < 10:
        return 1 + rest % 3
    return 5 + rest % 96


async def register_skus(
    *, db: InventoryDb, product_id: str, offers: Iterable[tuple[str, str]], demo_stock: bool
) -> list[str]:
    """Keep stock for each (sku, seller) offer of a catalog product; returns the SKUs that are
    new. A known SKU keeps its quantities (a changed owner is recorded)."""
    created: list[str] = []
    for sku, seller_id in offers:
        known = await db.stock.get(sku, {"product_id": 1, "seller_id": 1})
        if known is not None:
            # the usual case after the seed: nothing changed, so no lease to take
            if (known.get("product_id"), known.get("seller_id")) != (product_id, seller_id):
                await db.stock.update(sku, _owner(product_id, seller_id))
            continue
        at = now()
        doc = {
            "_id": sku,
            "product_id": product_id,
            "seller_id": seller_id,
            "on_hand": demo_quantity(sku) if demo_stock else 0,
            "reserved": 0,
            "holds": {},
            "version": 1,
            "created_at": at,
            "updated_at": at,
        }
        try:
            await db.stock.insert(doc, [events.stock_level_changed(doc, "REGISTERED")])
        except DuplicateKeyError:
            continue  # registered concurrently (a redelivery racing the first delivery)
        created.append(sku)
    return created


def _owner(product_id: str, seller_id: str) -> Any:
    def change(current: Doc) -> Outcome:
        if (current.get("product_id"), current.get("seller_id")) == (product_id, seller_id):
            return None
        return {"product_id": product_id, "seller_id": seller_id, "updated_at": now()}, []

    return change


async def get_stock(*, db: InventoryDb, sku: str) -> StockRead | None:
    doc = await db.stock.get(sku, {"outbox": 0})
    return StockRead.from_doc(doc) if doc else None


async def get_stocks(*, db: InventoryDb, skus: Sequence[str]) -> dict[str, StockRead]:
    """One ``_id`` lookup each: the lookup FerretDB serves from its index (``$in`` scans)."""
    found = await asyncio.gather(*(get_stock(db=db, sku=sku) for sku in skus))
    return {stock.sku: stock for stock in found if stock is not None}


async def adjust_stock(*, db: InventoryDb, data: StockAdjust, principal: Principal) -> StockRead:
    """Change ``on_hand`` by ``delta``: the SKU's seller or an admin. It may not drop below
    what is reserved."""

    def change(current: Doc) -> Outcome:
        if not (principal.is_admin or principal.seller_id == current.get("seller_id")):
            raise Forbidden("NOT_YOUR_SKU", "only the SKU's seller or an admin adjusts its stock")
        on_hand = current["on_hand"] + data.delta
        if on_hand < current["reserved"]:
            raise Conflict(
                "STOCK_BELOW_RESERVED",
                f"{current['reserved']} units are reserved; on hand cannot drop to {on_hand}",
                ["input", "delta"],
            )
        if on_hand > MAX_ON_HAND:
            raise Conflict(
                "STOCK_TOO_HIGH", f"on hand is at most {MAX_ON_HAND}", ["input", "delta"]
            )
        changes = {"on_hand": on_hand, "updated_at": now()}
        after = {**current, **changes, "version": current["version"] + 1}
        return changes, [events.stock_level_changed(after, "ADJUSTED")]

    doc = await db.stock.update(
        data.sku,
        change,
        expected_version=data.expected_version,
        expected_version_at=("input", "expectedVersion"),
    )
    return StockRead.from_doc(doc)


def _hold(reservation_id: str, quantity: int) -> Any:
    def change(current: Doc) -> Outcome:
        holds = current.get("holds") or {}
        if reservation_id in holds:
            return None
        available = current["on_hand"] - current["reserved"]
        if available < quantity:
            raise OutOfStock(current["_id"], quantity, available)
        changes = {
            "reserved": current["reserved"] + quantity,
            "holds": {**holds, reservation_id: quantity},
            "updated_at": now(),
        }
        after = {**current, **changes, "version": current["version"] + 1}
        return changes, [events.stock_level_changed(after, "RESERVED")]

    return change


def _unhold(reservation_id: str, *, commit: bool) -> Any:
    """Drop the reservation's hold of this SKU: back to available, or (``commit``) out of
    ``on_hand`` for good."""

    def change(current: Doc) -> Outcome:
        holds = dict(current.get("holds") or {})
        quantity = holds.pop(reservation_id, None)
        if quantity is None:
            return None
        changes: dict[str, Any] = {
            "reserved": current["reserved"] - quantity,
            "holds": holds,
            "updated_at": now(),
        }
        if commit:
            changes["on_hand"] = current["on_hand"] - quantity
        after = {**current, **changes, "version": current["version"] + 1}
        cause = "COMMITTED" if commit else "RELEASED"
        return changes, [events.stock_level_changed(after, cause)]

    return change


# -- reservations ---------------------------------------------------------------------------


def _transition(
    to: ReservationStatus,
    allowed: set[ReservationStatus],
    cause: str,
    **fields: Any,
) -> Any:
    """Move the reservation to ``to`` if it is in ``allowed`` (else change nothing), with its
    event and a history entry in the same write."""

    def change(current: Doc) -> Outcome:
        if current["status"] not in allowed:
            return None
        at = now()
        entry = {"status": to.value, "at": at, "cause": cause}
        changes = {
            "status": to.value,
            "history": [*current.get("history", []), entry],
            "updated_at": at,
            **fields,
        }
        after = {**current, **changes, "version": current["version"] + 1}
        return changes, [events.reservation_changed(after)]

    return change


def _lines(doc: Doc) -> list[ReservationLine]:
    return [ReservationLine(**line) for line in doc["lines"]]


async def _release_holds(
    db: InventoryDb, reservation_id: str, lines: Iterable[ReservationLine]
) -> None:
    for line in lines:
        # Only the reservation's own writers add its hold, and they check the reservation's
        # status after holding: a plain read that finds no hold needs no lease. Under a rush
        # for the last units, the buyers who lost leave without queueing.
        current = await db.stock.get(line.sku, {"holds": 1})
        if current is None or reservation_id not in (current.get("holds") or {}):
            continue
        await db.stock.update(line.sku, _unhold(reservation_id, commit=False))


async def reserve(
    *, db: InventoryDb, request: ReserveRequest, hold_ttl_s: float
) -> ReservationRead:
    """Hold every line for ``hold_ttl_s`` or none. The same id again returns the first outcome
    (resuming it when its writer stopped half-way); the same id with other lines is refused."""
    at = now()
    lines = [line.model_dump() for line in request.lines]
    doc = {
        "_id": request.reservation_id,
        "status": ReservationStatus.PENDING.value,
        "lines": lines,
        "reason": None,
        "sku": None,
        "expires_at": None,
        "history": [{"status": ReservationStatus.PENDING.value, "at": at, "cause": "requested"}],
        "version": 1,
        "created_at": at,
        "updated_at": at,
    }
    try:
        await db.reservations.insert(doc)
    except DuplicateKeyError:
        existing = await db.reservations.get(request.reservation_id, {"outbox": 0})
        if existing is not None and existing["lines"] and existing["lines"] != lines:
            raise Conflict(
                "RESERVATION_MISMATCH",
                "this reservation id was used for other lines",
                ["reservationId"],
            ) from None
    return await _settle(db, request.reservation_id, hold_ttl_s)


async def _settle(db: InventoryDb, reservation_id: str, hold_ttl_s: float) -> ReservationRead:
    current = await db.reservations.get(reservation_id, {"outbox": 0})
    if current is None:
        raise NotFound("RESERVATION_NOT_FOUND", "no such reservation", ["reservationId"])
    if current["status"] != ReservationStatus.PENDING:
        return ReservationRead.from_doc(current)
    lines = _lines(current)
    failure: tuple[str, str] | None = None
    for line in lines:
        try:
            await _take(db, reservation_id, line)
        except OutOfStock:
            failure = ("OUT_OF_STOCK", line.sku)
        except NotFound:
            failure = ("UNKNOWN_SKU", line.sku)
        if failure:
            break
    if failure:
        await _release_holds(db, reservation_id, lines)
        reason, sku = failure
        finish = _transition(
            ReservationStatus.FAILED, {ReservationStatus.PENDING}, reason, reason=reason, sku=sku
        )
    else:
        finish = _transition(
            ReservationStatus.HELD,
            {ReservationStatus.PENDING},
            "every line held",
            expires_at=now() + timedelta(seconds=hold_ttl_s),
        )
    final = await db.reservations.update(reservation_id, finish)
    if final["status"] in (ReservationStatus.FAILED, ReservationStatus.RELEASED):
        # settled by someone else meanwhile (a cancellation, the sweeper): no hold may outlive it
        await _release_holds(db, reservation_id, lines)
    return ReservationRead.from_doc(final)


async def _take(db: InventoryDb, reservation_id: str, line: ReservationLine) -> None:
    # A sold-out SKU is refused from a plain read, without queueing for its lease: under a
    # rush for the last units, the buyers who lost are answered at once.
    current = await db.stock.get(line.sku, {"on_hand": 1, "reserved": 1, "holds": 1})
    if current is None:
        raise NotFound("SKU_NOT_FOUND", "no stock is kept for this SKU", ["sku"])
    held = reservation_id in (current.get("holds") or {})
    if not held and current["on_hand"] - current["reserved"] < line.quantity:
        raise OutOfStock(line.sku, line.quantity, current["on_hand"] - current["reserved"])
    await db.stock.update(line.sku, _hold(reservation_id, line.quantity))


async def commit(*, db: InventoryDb, reservation_id: str) -> ReservationRead:
    """Take a held reservation's stock out of ``on_hand`` (the order is confirmed)."""
    current = await db.reservations.get(reservation_id, {"outbox": 0})
    if current is None:
        raise NotFound("RESERVATION_NOT_FOUND", "no such reservation", ["reservationId"])
    if current["status"] == ReservationStatus.COMMITTED:
        return ReservationRead.from_doc(current)
    if current["status"] != ReservationStatus.HELD:
        raise Conflict(
            "RESERVATION_NOT_HELD",
            f"the reservation is {current['status']}, it cannot be committed",
            ["reservationId"],
        )
    for line in _lines(current):
        await db.stock.update(line.sku, _unhold(reservation_id, commit=True))
    final = await db.reservations.update(
        reservation_id,
        _transition(ReservationStatus.COMMITTED, {ReservationStatus.HELD}, "order confirmed"),
    )
    return ReservationRead.from_doc(final)


async def release(*, db: InventoryDb, reservation_id: str, reason: str) -> ReservationRead:
    """Give a pending or held reservation's stock back, or a committed one's units back on
    hand. A cancellation that arrives before the reservation leaves a released one behind, so
    a late request holds nothing."""
    current = await db.reservations.get(reservation_id, {"outbox": 0})
    if current is None:
        at = now()
        tombstone = {
            "_id": reservation_id,
            "status": ReservationStatus.RELEASED.value,
            "lines": [],
            "reason": reason,
            "sku": None,
            "expires_at": None,
            "history": [{"status": ReservationStatus.RELEASED.value, "at": at, "cause": reason}],
            "version": 1,
            "created_at": at,
            "updated_at": at,
        }
        try:
            await db.reservations.insert(tombstone)
        except DuplicateKeyError:
            return await release(db=db, reservation_id=reservation_id, reason=reason)
        return ReservationRead.from_doc(tombstone)
    if current["status"] in (ReservationStatus.COMMITTED, ReservationStatus.RETURNED):
        return await _return(db, current)
    final = current
    if current["status"] not in SETTLED:
        final = await db.reservations.update(
            reservation_id,
            _transition(
                ReservationStatus.RELEASED,
                {ReservationStatus.PENDING, ReservationStatus.HELD},
                reason,
                reason=reason,
            ),
        )
    # Settled first, holds after: a writer still taking holds sees the settled status and
    # gives its holds back too, and a crash in between is repaired by the next release of
    # the same reservation (a redelivered cancellation), which releases again.
    if final["status"] in (ReservationStatus.COMMITTED, ReservationStatus.RETURNED):
        return await _return(db, final)
    await _release_holds(db, reservation_id, _lines(final))
    return ReservationRead.from_doc(final)


def _give_back(reservation_id: str, quantity: int) -> Any:
    """Put a committed quantity back on hand, once: the SKU remembers what it took back."""

    def change(current: Doc) -> Outcome:
        returned = current.get("returned") or {}
        if reservation_id in returned:
            return None
        changes = {
            "on_hand": current["on_hand"] + quantity,
            "returned": {**returned, reservation_id: quantity},
            "updated_at": now(),
        }
        after = {**current, **changes, "version": current["version"] + 1}
        return changes, [events.stock_level_changed(after, "RETURNED")]

    return change


async def _return(db: InventoryDb, current: Doc) -> ReservationRead:
    """A confirmed order was cancelled: its units go back on hand (each SKU once, so a crash
    half-way is finished by the redelivered cancellation), then the reservation is RETURNED."""
    reservation_id = current["_id"]
    for line in _lines(current):
        await db.stock.update(line.sku, _give_back(reservation_id, line.quantity))
    final = await db.reservations.update(
        reservation_id,
        _transition(ReservationStatus.RETURNED, {ReservationStatus.COMMITTED}, "order cancelled"),
    )
    return ReservationRead.from_doc(final)


async def get_reservation(*, db: InventoryDb, reservation_id: str) -> ReservationRead | None:
    doc = await db.reservations.get(reservation_id, {"outbox": 0})
    return ReservationRead.from_doc(doc) if doc else None


async def sweep(*, db: InventoryDb, pending_timeout_s: float) -> dict[str, int]:
    """Release held reservations past their expiry, and fail those whose outcome was never
    written (their writer died) after ``pending_timeout_s``. FerretDB has no TTL indexes."""
    at = now()
    expired = await db.reservations.find(
        {"status": ReservationStatus.HELD.value, "expires_at": {"$lt": at}}, {"_id": 1}
    )
    for doc in expired:
        await release(db=db, reservation_id=doc["_id"], reason="EXPIRED")
    stale = await db.reservations.find(
        {
            "status": ReservationStatus.PENDING.value,
            "created_at": {"$lt": at - timedelta(seconds=pending_timeout_s)},
        },
        {"outbox": 0},
    )
    for doc in stale:
        final = await db.reservations.update(
            doc["_id"],
            _transition(
                ReservationStatus.FAILED, {ReservationStatus.PENDING}, "TIMEOUT", reason="TIMEOUT"
            ),
        )
        if final["status"] == ReservationStatus.FAILED:
            await _release_holds(db, doc["_id"], _lines(doc))
    return {"expired": len(expired), "timed_out": len(stale)}
