"""``emporium-inventory seed``: demo stock for every offer the catalog sells, in bulk.

The catalog's product events give each new SKU its demo stock too, but one event at a time
(a few per second on FerretDB): a freshly seeded catalog of thousands of products would take
minutes to become orderable. The seed reads the catalog's ``productExport`` through its
subgraph, pages of up to 2000, and inserts the stock of every SKU not yet known in one
unordered bulk insert per page. Inserting a new ``_id`` is atomic on its own, so a SKU the
event consumer registers at the same moment is simply skipped (duplicate key, theirs
stands), and running the seed again creates nothing: it is idempotent.

The inserted SKUs' ``StockLevelChanged`` events then go out through ``seed_batches``
documents of :data:`ANNOUNCED_PER_BATCH` events each, whose outbox carries them: the relay
publishes a batch with one document update instead of one per SKU, which on FerretDB (where
an update of a large collection is slow) is the difference between seconds and many minutes
of a busy datastore after the seed. Each seeded stock document names its page
(``seed_batch``), and each batch document the SKUs it announces; a run interrupted between the
insert and the announcement leaves seeded SKUs no batch names, and the next run announces
them at their current level.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
from emporium_kit.documents import now
from emporium_kit.events import with_outbox
from emporium_kit.events.outbox import OUTBOX_FIELD
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError
from ulid import ULID

from emporium_inventory import events
from emporium_inventory.stock import demo_quantity
from emporium_inventory.store import SEED_BATCHES, STOCK

EXPORT = """
query InventorySeed($first: Int!, $after: String) {
  productExport(first: $first, after: $after) {
    edges { node { id sku ownerSellerId listings { sellerId sku } } }
    pageInfo { endCursor hasNextPage }
  }
}
"""
PAGE = 2000
# events per seed_batches document: the relay removes published entries with one `$pullAll`,
# which FerretDB evaluates by comparing every entry with every other (quadratic)
ANNOUNCED_PER_BATCH = 250
DUPLICATE_KEY = 11000


def offers(product: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(sku, seller) of the owner's own offer, then of every seller listing."""
    if product.get("ownerSellerId"):
        yield product["sku"], product["ownerSellerId"]
    for listing in product.get("listings") or []:
        yield listing["sku"], listing["sellerId"]


def stock_doc(sku: str, seller_id: str, product_id: str, page_id: str) -> dict[str, Any]:
    at = now()
    return {
        "_id": sku,
        "product_id": product_id,
        "seller_id": seller_id,
        "on_hand": demo_quantity(sku),
        "reserved": 0,
        "holds": {},
        "version": 1,
        "seed_batch": page_id,
        "created_at": at,
        "updated_at": at,
    }


async def seed(
    *, db: AsyncDatabase[dict[str, Any]], catalog_url: str, timeout_s: float
) -> tuple[int, int]:
    """(SKUs seen, stock documents created)."""
    stock = db[STOCK]
    await _announce_interrupted(db)
    known = {doc["_id"] async for doc in stock.find({}, {"_id": 1})}
    seen = created = 0
    after: str | None = None
    async with httpx.AsyncClient(timeout=timeout_s) as http:
        while True:
            response = await http.post(
                catalog_url, json={"query": EXPORT, "variables": {"first": PAGE, "after": after}}
            )
            response.raise_for_status()
            body = response.json()
            if body.get("errors"):
                raise RuntimeError(f"the catalog refused the export: {body['errors']}")
            page = body["data"]["productExport"]
            page_id = f"seed-{ULID()}"
            fresh: dict[str, dict[str, Any]] = {}
            for edge in page["edges"]:
                product = edge["node"]
                for sku, seller_id in offers(product):
                    seen += 1
                    if sku not in known and sku not in fresh:
                        fresh[sku] = stock_doc(sku, seller_id, product["id"], page_id)
            if fresh:
                inserted = await _insert(stock, list(fresh.values()))
                await _announce(db, [fresh[sku] for sku in inserted])
                created += len(inserted)
                known.update(fresh)
            if not page["pageInfo"]["hasNextPage"]:
                return seen, created
            after = page["pageInfo"]["endCursor"]


async def _insert(stock: AsyncCollection[dict[str, Any]], docs: list[dict[str, Any]]) -> list[str]:
    """The SKUs of ``docs`` this insert created."""
    try:
        await stock.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        # registered meanwhile by the event consumer: theirs stands, and so do their events
        errors = exc.details["writeErrors"]
        if any(e["code"] != DUPLICATE_KEY for e in errors):
            raise
        taken = {e["index"] for e in errors}
        return [doc["_id"] for n, doc in enumerate(docs) if n not in taken]
    return [doc["_id"] for doc in docs]


async def _announce(db: AsyncDatabase[dict[str, Any]], docs: list[dict[str, Any]]) -> None:
    """``seed_batches`` documents carrying the ``StockLevelChanged`` of ``docs`` (seeded
    stock), :data:`ANNOUNCED_PER_BATCH` to a document."""
    for start in range(0, len(docs), ANNOUNCED_PER_BATCH):
        chunk = docs[start : start + ANNOUNCED_PER_BATCH]
        document = {
            "_id": f"announce-{ULID()}",
            "batch": chunk[0]["seed_batch"],
            "skus": [doc["_id"] for doc in chunk],
            "created_at": now(),
        }
        batch_events = [events.stock_level_changed(doc, "REGISTERED") for doc in chunk]
        await db[SEED_BATCHES].insert_one(with_outbox(document, batch_events))


async def _announce_interrupted(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Announce the seeded SKUs an interrupted run never announced, each at the level it has
    now (it may have moved since: the event must say what is true)."""
    announced: set[str] = set()
    async for doc in db[SEED_BATCHES].find({}, {"skus": 1}):
        announced.update(doc["skus"])
    by_page: dict[str, list[dict[str, Any]]] = defaultdict(list)
    async for doc in db[STOCK].find({"seed_batch": {"$exists": True}}, {OUTBOX_FIELD: 0}):
        if doc["_id"] not in announced:
            by_page[doc["seed_batch"]].append(doc)
    for docs in by_page.values():
        await _announce(db, docs)
