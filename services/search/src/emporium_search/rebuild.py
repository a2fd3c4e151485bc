"""``emporium-search rebuild``: a new index from the catalog's API, then an atomic alias swap.

1. Bootstrap; refuse to start while another build is registered (``--force`` abandons it).
2. Create ``<alias>_<timestamp>`` (no refreshes, no replicas while loading) and point the
   ``<alias>_building`` alias at it. From now on every indexer writes each event to both
   the live and the building alias, with external versions, so order does not matter.
3. Wait longer than the indexers' target cache (``search_targets_ttl_s``): after this, an
   event handled anywhere reaches the new index. A change the catalog committed before
   that is in the catalog's state that step 5 reads; a change committed after is in an
   event that reaches the new index. Nothing falls in between.
4. Sync the category table from the catalog; copy archived-product tombstones over.
5. Page through the catalog's ``productExport`` connection (1,000 products a page: each page
   is a pass over the catalog's store) and bulk-write each page at the products' versions
   (a version conflict means an event already wrote something newer); the next page is
   read while the previous one is written.
6. Switch the index to serving settings, refresh, then in ONE ``_aliases`` call move the
   live alias to it and drop the building alias. Searches never see a missing or partial
   index: before the swap they read the old index, after it the new one.
7. Wait for writers and searches holding the old index to finish, delete the old index.

If anything fails before the swap the new index is deleted and the live one is untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from emporium_search.catalog_client import DEFAULT_EXPORT_PAGE, CatalogClient
from emporium_search.indexer import Indexer, WriteResult

log = logging.getLogger(__name__)

ANNOUNCE_MARGIN_S = 1.0


class RebuildInProgressError(RuntimeError):
    """Another rebuild registered its index (running, or crashed without cleaning up)."""


@dataclass(frozen=True, slots=True)
class RebuildReport:
    index: str
    replaced: tuple[str, ...]
    categories: int
    products: int
    conflicts: int
    tombstones: int
    seconds: float
    load_seconds: float

    @property
    def products_per_second(self) -> float:
        return self.products / self.load_seconds if self.load_seconds else 0.0


async def _load(
    indexer: Indexer, catalog: CatalogClient, *, page_size: int, say: Callable[[str], None]
) -> tuple[WriteResult, int]:
    """Bulk-write every catalog page into the building index; the next page is fetched
    while the previous one is written (the catalog read is the slower half)."""
    loaded = WriteResult()
    products = 0
    writing: asyncio.Task[WriteResult] | None = None
    try:
        async for page in catalog.product_pages(page_size=page_size):
            if writing is not None:
                loaded.add(await writing)
            writing = asyncio.create_task(indexer.upsert(page, targets=[indexer.names.building]))
            products += len(page)
            if products % (page_size * 5) == 0:
                say(f"{products} products loaded")
        if writing is not None:
            loaded.add(await writing)
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
    return loaded, products


async def rebuild(
    *,
    indexer: Indexer,
    catalog: CatalogClient,
    page_size: int = DEFAULT_EXPORT_PAGE,
    keep_old: bool = False,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> RebuildReport:
    """Run the rebuild described in the module doc; returns what it did."""
    say = progress or log.info
    admin, names = indexer.admin, indexer.names
    started = time.monotonic()
    await admin.bootstrap()
    state = await admin.aliases()
    if state.building:
        if not force:
            raise RebuildInProgressError(
                f"{', '.join(state.building)} is being built by another rebuild (or one that "
                "crashed); pass --force to abandon it"
            )
        say(f"abandoning the unfinished build {', '.join(state.building)}")
        await admin.delete(state.building)
    index = names.new_index()
    await admin.create_product_index(index, building=True)
    announce_wait = indexer.targets_ttl_s + ANNOUNCE_MARGIN_S
    try:
        await admin.update_aliases([{"add": {"index": index, "alias": names.building}}])
        say(f"building {index}; waiting {announce_wait:.1f}s until every indexer writes to it")
        await asyncio.sleep(announce_wait)

        categories = await catalog.category_tree()
        await indexer.put_categories(categories)
        tombstones = await indexer.copy_tombstones(source=names.alias, target=names.building)
        say(f"{len(categories)} categories synced, {tombstones.written} tombstones copied")

        load_started = time.monotonic()
        loaded, products = await _load(indexer, catalog, page_size=page_size, say=say)
        load_seconds = time.monotonic() - load_started

        await admin.serve(index)
        replaced = (await admin.aliases()).live
        await admin.update_aliases(
            [
                *({"remove": {"index": old, "alias": names.alias}} for old in replaced),
                {"add": {"index": index, "alias": names.alias}},
                {"remove": {"index": index, "alias": names.building}},
            ]
        )
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.shield(admin.delete([index]))
        raise
    indexer.forget_targets()
    say(f"alias {names.alias} now points to {index} ({products} products)")
    old = [i for i in replaced if i != index]
    if old and not keep_old:
        await asyncio.sleep(announce_wait)
        await admin.delete(old)
        say(f"deleted {', '.join(old)}")
    return RebuildReport(
        index=index,
        replaced=tuple(old),
        categories=len(categories),
        products=products,
        conflicts=loaded.conflicts,
        tombstones=tombstones.written,
        seconds=time.monotonic() - started,
        load_seconds=load_seconds,
    )
