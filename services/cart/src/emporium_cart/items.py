"""Use cases of the item aggregate: plain async functions, keyword-only, the store first."""

from __future__ import annotations

import asyncio
from typing import Any

from emporium_cart.events import item_created, item_renamed
from emporium_cart.models import ItemCreate, ItemRead, ItemRename
from emporium_cart.store import CartDb, new_id, now


async def create_item(*, db: CartDb, data: ItemCreate) -> ItemRead:
    """A new item and its ItemCreated event, in one write."""
    at = now()
    doc = {
        "_id": new_id(),
        "name": data.name,
        "version": 1,
        "created_at": at,
        "updated_at": at,
    }
    await db.items.insert(doc, [item_created(doc)])
    return ItemRead.from_doc(doc)


async def get_item(*, db: CartDb, item_id: str) -> ItemRead | None:
    doc = await db.items.get(item_id)
    return ItemRead.from_doc(doc) if doc else None


async def get_items(*, db: CartDb, ids: list[str]) -> dict[str, ItemRead]:
    """The items among ``ids``, by id (one lookup each: a lone ``_id`` filter is the lookup
    FerretDB serves from its index; ``$in`` scans)."""
    found = await asyncio.gather(*(get_item(db=db, item_id=item_id) for item_id in ids))
    return {item.id: item for item in found if item is not None}


async def rename_item(*, db: CartDb, data: ItemRename) -> ItemRead:
    """Rename under the item's lease, with ItemRenamed in the same write; the same name is no
    change (nothing written, no event)."""

    def rename(current: dict[str, Any]) -> tuple[dict[str, Any], list[Any]] | None:
        if current["name"] == data.name:
            return None
        changes = {"name": data.name, "updated_at": now()}
        after = {**current, **changes, "version": current["version"] + 1}
        return changes, [item_renamed(after)]

    doc = await db.items.update(data.id, rename, expected_version=data.expected_version)
    return ItemRead.from_doc(doc)
