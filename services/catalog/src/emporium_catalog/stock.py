"""Availability from the inventory: the stock levels the catalog records and what they derive.

The inventory owns stock; the catalog owns what a product *reads as*. Each offer of a product
(the owner's, under the product's SKU, and every seller listing) whose SKU the inventory
tracks takes its availability from that SKU's last known level, and the product is in stock
when any of its offers is. The catalog records each SKU's level in the product's ``stock``
list (``{sku, available, version}``, the inventory's stock version) through the product's
guarded write, so every consumer of the catalog's events (search, cart) follows it at the
product's own version.

Only ``IN_STOCK`` and ``OUT_OF_STOCK`` follow stock: a seller's ``PREORDER``, ``BACKORDER``
or ``DISCONTINUED`` is a statement about the offer that stock levels do not override.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from emporium_kit.documents import ChangeResult
from emporium_kit.errors import NotFound
from emporium_kit.events.consumer import BatchResult
from emporium_kit.events.envelope import Event

from emporium_catalog import events
from emporium_catalog.cache import ProductCache
from emporium_catalog.domain import StockLevel, merge_levels
from emporium_catalog.products import Doc, product_change, write_product
from emporium_catalog.store import CatalogDb

# the version of a SKU's stock when the inventory registers it
FIRST_VERSION = 1
# products written at once by one batch: each is its own lease and write, and FerretDB's
# SQLite backend serialises writes anyway
WRITE_CONCURRENCY = 8


def _visible(doc: Doc) -> tuple[Any, ...]:
    return doc["availability"], [listing["availability"] for listing in doc.get("listings", [])]


def stock_change(doc: Doc, levels: Sequence[StockLevel]) -> ChangeResult:
    """The product write for ``levels``: the newer ones recorded, the availability they imply
    (``product_change`` derives it), and ``ProductUpdated`` only when what the product reads
    as changed. A level that moves 7 units to 6 is still recorded, so that an older event
    can never win later, but it tells no consumer anything.

    Only the FIRST level of an offer's SKU (inventory version 1, nothing recorded for it yet)
    that changes nothing the product reads as is not written: no event older than a first
    one exists, so there is nothing for the record to hold off, and the inventory's seed
    announces thousands of them at once (one product write each would keep the store busy
    for minutes)."""
    stored = doc.get("stock", [])
    merged = merge_levels(stored, levels)
    if merged is None:
        return None
    change = product_change(
        doc,
        {"stock": merged},
        lambda after: [events.product_updated(after)] if _visible(after) != _visible(doc) else [],
    )
    if change is not None and not change[1] and _only_first_levels_of_offers(doc, stored, merged):
        return None
    return change


def _only_first_levels_of_offers(doc: Doc, stored: Sequence[Doc], merged: Sequence[Doc]) -> bool:
    """Whether every level ``merged`` adds to ``stored`` is the first of a SKU the product
    offers (a level of a SKU it does not offer is kept for the listing that may take it up)."""
    known = {entry["sku"] for entry in stored}
    offers = {doc["sku"], *(listing["sku"] for listing in doc.get("listings", []))}
    fresh = [entry for entry in merged if entry not in stored]
    return all(
        entry["sku"] in offers and entry["sku"] not in known and entry["version"] == FIRST_VERSION
        for entry in fresh
    )


async def record_stock_levels(
    *, db: CatalogDb, cache: ProductCache | None, product_id: str, levels: Sequence[StockLevel]
) -> None:
    """Record ``levels`` (SKUs of one product) in one guarded write of the product."""
    await write_product(
        db=db, cache=cache, product_id=product_id, change=lambda doc: stock_change(doc, levels)
    )


async def handle_stock_batch(
    db: CatalogDb, cache: ProductCache | None, batch: Sequence[Event[Any]]
) -> BatchResult:
    """``StockLevelChanged`` events, one write per product however many of its SKUs' levels
    the batch holds. A product the catalog does not have (a SKU registered for a product
    since deleted, or not yet known) is skipped: there is nothing to show it on. A product
    whose write fails fails only its own events; an outage raises (the worker waits it
    out)."""
    by_product: dict[str, list[Event[Any]]] = defaultdict(list)
    for event in batch:
        if event.data.product_id is not None:
            by_product[event.data.product_id].append(event)
    failed: dict[str, BaseException] = {}
    gate = asyncio.Semaphore(WRITE_CONCURRENCY)

    async def record(product_id: str, product_events: list[Event[Any]]) -> None:
        levels = [
            StockLevel(sku=e.data.sku, available=e.data.available, version=e.data.version)
            for e in product_events
        ]
        async with gate:
            try:
                # a lone read first: what needs no write (a duplicate, an older level, a first
                # level that changes nothing) needs no lease either, and a read is atomic
                current = await db.products.get(product_id)
                if current is None or stock_change(current, levels) is None:
                    return
                await record_stock_levels(db=db, cache=cache, product_id=product_id, levels=levels)
            except NotFound:
                return
            except events.OUTAGE_ERRORS:
                raise
            except Exception as exc:
                failed.update({event.id: exc for event in product_events})

    await asyncio.gather(*(record(pid, evs) for pid, evs in by_product.items()))
    return BatchResult(failed)
