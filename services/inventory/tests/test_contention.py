"""Oversell is impossible: 200 concurrent reservations for the last 10 units of one SKU on the
test platform's FerretDB (whose own updates are unguarded read-modify-writes), through eight
independent stores — each with its own client and leases, as eight replicas would be."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
from emporium_inventory import stock
from emporium_inventory.models import ReservationStatus, ReserveRequest
from emporium_inventory.settings import InventorySettings
from emporium_inventory.store import InventoryDb
from emporium_kit.documents import LeaseConfig
from pymongo import AsyncMongoClient
from ulid import ULID

from .helpers import new_sku

pytestmark = pytest.mark.integration

BUYERS = 200
UNITS = 10
REPLICAS = 8


async def test_200_buyers_for_the_last_10_units(
    db: InventoryDb, settings: InventorySettings
) -> None:
    sku = await new_sku(db, UNITS)
    clients = [
        AsyncMongoClient(settings.mongo_url, tz_aware=True, maxPoolSize=10) for _ in range(REPLICAS)
    ]
    # a lease may queue behind every other buyer: give it the time the whole rush takes
    leases = LeaseConfig(wait_s=300.0)
    replicas = [
        InventoryDb(client[str(settings.mongo_database)], leases=leases) for client in clients
    ]
    observed: list[tuple[int, int]] = []
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            current = await db.stock.get(sku, {"on_hand": 1, "reserved": 1})
            observed.append((current["on_hand"], current["reserved"]))
            await asyncio.sleep(0.01)

    async def buy(number: int) -> Any:
        request = ReserveRequest(
            reservation_id=f"order-{ULID()}", lines=[{"sku": sku, "quantity": 1}]
        )
        return await stock.reserve(
            db=replicas[number % REPLICAS], request=request, hold_ttl_s=600.0
        )

    watcher = asyncio.create_task(watch())
    started = time.perf_counter()
    try:
        outcomes = await asyncio.gather(*(buy(n) for n in range(BUYERS)))
    finally:
        print(f"{BUYERS} reservations in {time.perf_counter() - started:.1f}s")
        done.set()
        await watcher

    counts = Counter((o.status, o.reason) for o in outcomes)
    assert counts == {
        (ReservationStatus.HELD, None): UNITS,
        (ReservationStatus.FAILED, "OUT_OF_STOCK"): BUYERS - UNITS,
    }
    final = await db.stock.get(sku)
    assert (final["on_hand"], final["reserved"]) == (UNITS, UNITS)
    held = {o.id for o in outcomes if o.status == ReservationStatus.HELD}
    assert set(final["holds"]) == held
    assert observed
    assert all(0 <= reserved <= on_hand == UNITS for on_hand, reserved in observed)

    committer = InventoryDb(clients[0][str(settings.mongo_database)], leases=leases)
    for reservation_id in held:
        await stock.commit(db=committer, reservation_id=reservation_id)
    final = await db.stock.get(sku)
    assert (final["on_hand"], final["reserved"], final["holds"]) == (0, 0, {})
