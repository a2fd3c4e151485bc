"""Reservations on the test platform's FerretDB: all or nothing, idempotent, committed,
released, expired."""

from __future__ import annotations

from typing import Any

import pytest
from emporium_inventory import stock
from emporium_inventory.models import ReservationStatus, ReserveRequest
from emporium_inventory.store import InventoryDb
from emporium_kit.errors import Conflict
from ulid import ULID

from .helpers import eventually, new_sku

pytestmark = pytest.mark.integration

TTL = 600.0


def request(order_id: str, **lines: int) -> ReserveRequest:
    return ReserveRequest(
        reservation_id=order_id,
        lines=[{"sku": sku, "quantity": quantity} for sku, quantity in lines.items()],
    )


async def levels(db: InventoryDb, sku: str) -> tuple[int, int, int]:
    current = await stock.get_stock(db=db, sku=sku)
    assert current is not None
    return current.on_hand, current.reserved, current.available


async def test_a_reservation_holds_every_line_and_commits(db: InventoryDb) -> None:
    a, b = await new_sku(db, 5), await new_sku(db, 3)
    order = f"order-{ULID()}"
    held = await stock.reserve(db=db, request=request(order, **{a: 2, b: 3}), hold_ttl_s=TTL)
    assert held.status == ReservationStatus.HELD
    assert held.expires_at is not None
    assert await levels(db, a) == (5, 2, 3)
    assert await levels(db, b) == (3, 3, 0)

    again = await stock.reserve(db=db, request=request(order, **{a: 2, b: 3}), hold_ttl_s=TTL)
    assert (again.status, again.version) == (held.status, held.version)
    assert await levels(db, a) == (5, 2, 3)
    with pytest.raises(Conflict) as mismatch:
        await stock.reserve(db=db, request=request(order, **{a: 1}), hold_ttl_s=TTL)
    assert (mismatch.value.code, mismatch.value.field) == (
        "RESERVATION_MISMATCH",
        ["reservationId"],
    )

    committed = await stock.commit(db=db, reservation_id=order)
    assert committed.status == ReservationStatus.COMMITTED
    assert await levels(db, a) == (3, 0, 3)
    assert await levels(db, b) == (0, 0, 0)
    assert (await stock.commit(db=db, reservation_id=order)).version == committed.version
    assert await levels(db, a) == (3, 0, 3)

    # the confirmed order is cancelled: its units come back, once
    for _ in range(2):
        returned = await stock.release(db=db, reservation_id=order, reason="CANCELLED")
        assert returned.status == ReservationStatus.RETURNED
        assert await levels(db, a) == (5, 0, 5)
        assert await levels(db, b) == (3, 0, 3)


async def test_a_line_that_cannot_be_held_releases_the_others(db: InventoryDb) -> None:
    a, b, c = await new_sku(db, 5), await new_sku(db, 1), await new_sku(db, 5)
    order = f"order-{ULID()}"
    failed = await stock.reserve(
        db=db, request=request(order, **{a: 1, b: 2, c: 1}), hold_ttl_s=TTL
    )
    assert (failed.status, failed.reason, failed.sku) == (
        ReservationStatus.FAILED,
        "OUT_OF_STOCK",
        b,
    )
    for sku, on_hand in ((a, 5), (b, 1), (c, 5)):
        assert await levels(db, sku) == (on_hand, 0, on_hand)

    unknown = await stock.reserve(
        db=db, request=request(f"order-{ULID()}", **{a: 1, "SKU-NONE": 1}), hold_ttl_s=TTL
    )
    assert (unknown.status, unknown.reason, unknown.sku) == ("FAILED", "UNKNOWN_SKU", "SKU-NONE")
    assert await levels(db, a) == (5, 0, 5)


async def test_release_gives_the_stock_back_once(db: InventoryDb) -> None:
    a = await new_sku(db, 4)
    order = f"order-{ULID()}"
    await stock.reserve(db=db, request=request(order, **{a: 3}), hold_ttl_s=TTL)
    released = await stock.release(db=db, reservation_id=order, reason="CANCELLED")
    assert (released.status, released.reason) == (ReservationStatus.RELEASED, "CANCELLED")
    assert await levels(db, a) == (4, 0, 4)
    await stock.release(db=db, reservation_id=order, reason="CANCELLED")
    assert await levels(db, a) == (4, 0, 4)
    with pytest.raises(Conflict, match="RELEASED"):
        await stock.commit(db=db, reservation_id=order)


async def test_a_cancellation_before_the_reservation_leaves_nothing_to_hold(
    db: InventoryDb,
) -> None:
    a = await new_sku(db, 4)
    order = f"order-{ULID()}"
    await stock.release(db=db, reservation_id=order, reason="CANCELLED")
    late = await stock.reserve(db=db, request=request(order, **{a: 1}), hold_ttl_s=TTL)
    assert late.status == ReservationStatus.RELEASED
    assert await levels(db, a) == (4, 0, 4)


async def test_the_sweeper_releases_expired_holds(db: InventoryDb) -> None:
    """The app's sweeper runs every 0.5 s in these tests."""
    a = await new_sku(db, 2)
    order = f"order-{ULID()}"
    await stock.reserve(db=db, request=request(order, **{a: 2}), hold_ttl_s=0.5)
    assert await levels(db, a) == (2, 2, 0)

    async def released() -> Any:
        # the status is written first, then the holds go
        current = await stock.get_reservation(db=db, reservation_id=order)
        if current and current.status == ReservationStatus.RELEASED:
            return current if await levels(db, a) == (2, 0, 2) else None
        return None

    assert (await eventually(released)).reason == "EXPIRED"


async def test_the_sweeper_fails_a_reservation_whose_writer_died(
    db: InventoryDb, raw_db: Any
) -> None:
    """A writer that held a line and died before writing the outcome: past the pending
    timeout the sweep fails it and releases its holds."""
    a, b = await new_sku(db, 3), await new_sku(db, 3)
    order = f"order-{ULID()}"
    # what a writer leaves when it dies after the first line: a pending reservation, one hold
    await stock.reserve(db=db, request=request(order, **{a: 1}), hold_ttl_s=TTL)
    await raw_db["reservations"].update_one(
        {"_id": order},
        {
            "$set": {
                "status": "PENDING",
                "lines": [{"sku": a, "quantity": 1}, {"sku": b, "quantity": 1}],
            }
        },
    )
    assert await levels(db, a) == (3, 1, 2)

    assert (await stock.sweep(db=db, pending_timeout_s=60.0))["timed_out"] == 0
    assert (await stock.sweep(db=db, pending_timeout_s=0.0))["timed_out"] == 1
    failed = await stock.get_reservation(db=db, reservation_id=order)
    assert failed is not None
    assert (failed.status, failed.reason) == ("FAILED", "TIMEOUT")
    assert await levels(db, a) == (3, 0, 3)
    assert await levels(db, b) == (3, 0, 3)
