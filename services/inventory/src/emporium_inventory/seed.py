"""``emporium-inventory seed``: demo stock for every offer the catalog sells, in bulk.

The catalog's product events give each new SKU its demo stock too, but one event at a time
(a few per second on FerretDB): a freshly seeded catalog of thousands of products would take
minutes to become orderable. The seed reads the catalog's ``productExport`` through its
subgraph, pages of up to 2000, and inserts the stock of every SKU not yet known in one
unordered bulk insert per page, each document with its ``StockLevelChanged`` in its outbox
(the running service's relay publishes them). Inserting a new ``_id`` is atomic on its own,
so a SKU the event consumer registers at the same moment is simply skipped (duplicate key),
and running the seed again creates nothing: it is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx
from emporium_kit.documents import now
from emporium_kit.events import with_outbox
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from emporium_inventory import events
from emporium_inventory.stock import demo_quantity

EXPORT = """
query InventorySeed($first: Int!, $after: String) {
  productExport(first: $first, after: $after) {
    edges { node { id sku ownerSellerId listings { sellerId sku } } }
    pageInfo { endCursor hasNextPage }
  }
}
"""
PAGE = 2000
DUPLICATE_KEY = 11000


def offers(product: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(sku, seller) of the owner's own offer, then of every seller listing."""
    if product.get("ownerSellerId"):
        yield product["sku"], product["ownerSellerId"]
    for listing in product.get("listings") or []:
        yield listing["sku"], listing["sellerId"]


def stock_doc(sku: str, seller_id: str, product_id: str) -> dict[str, Any]:
    at = now()
    doc = {
        "_id": sku,
        "product_id": product_id,
        "seller_id": seller_id,
        "on_hand": demo_quantity(sku),
        "reserved": 0,
        "holds": {},
        "version": 1,
        "created_at": at,
        "updated_at": at,
    }
    return with_outbox(doc, [events.stock_level_changed(doc, "REGISTERED")])


async def seed(
    *, stock: AsyncCollection[dict[str, Any]], catalog_url: str, timeout_s: float
) -> tuple[int, int]:
    """(SKUs seen, stock documents created)."""
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
            fresh: dict[str, dict[str, Any]] = {}
            for edge in page["edges"]:
                product = edge["node"]
                for sku, seller_id in offers(product):
                    seen += 1
                    if sku not in known and sku not in fresh:
                        fresh[sku] = stock_doc(sku, seller_id, product["id"])
            if fresh:
                created += await _insert(stock, list(fresh.values()))
                known.update(fresh)
            if not page["pageInfo"]["hasNextPage"]:
                return seen, created
            after = page["pageInfo"]["endCursor"]


async def _insert(stock: AsyncCollection[dict[str, Any]], docs: list[dict[str, Any]]) -> int:
    try:
        result = await stock.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        # registered meanwhile by the event consumer: theirs stands
        other = [e for e in exc.details["writeErrors"] if e["code"] != DUPLICATE_KEY]
        if other:
            raise
        return int(exc.details["nInserted"])
    return len(result.inserted_ids)
