"""Shared steps of the inventory tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from emporium_inventory import stock
from emporium_inventory.models import StockAdjust
from emporium_inventory.store import InventoryDb
from emporium_kit.auth import Principal
from ulid import ULID

ADMIN = Principal(subject="admin-1", roles=frozenset({"admin"}))


async def new_sku(db: InventoryDb, on_hand: int, *, seller_id: str = "seller-1") -> str:
    """A SKU of a fresh product with ``on_hand`` units."""
    sku = f"SKU-{ULID()}"
    await stock.register_skus(
        db=db, product_id=f"prod-{ULID()}", offers=[(sku, seller_id)], demo_stock=False
    )
    if on_hand:
        data = StockAdjust(sku=sku, delta=on_hand, reason="delivery")
        await stock.adjust_stock(db=db, data=data, principal=ADMIN)
    return sku


async def eventually(check: Callable[[], Awaitable[Any]], *, within_s: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail with its last value."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, f"still {value!r}"
        await asyncio.sleep(0.1)
