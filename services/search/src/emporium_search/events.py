"""The events search consumes and their handlers, in one place.

Search publishes nothing. It consumes the catalog's product and category events (durable
consumer ``search-indexer`` on ``EMPORIUM_CATALOG``, run by the kit's ``ConsumerWorker``)
with its own tolerant-reader payload views. :data:`HANDLERS` maps each event to one indexer
call; consuming another event (the inventory service's availability events, order counts
for popularity) is a ``consumes`` declaration and one entry there. :data:`OUTAGE_ERRORS`
are the failures the worker waits out rather than counting against the delivery.

Handlers are idempotent by construction: every write carries the aggregate's version as an
external version, so a redelivery, a duplicate or an older event is a version conflict and
changes nothing (the kit's processed-event store only saves the repeated work).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import opensearchpy
from emporium_kit.events import Event, EventCatalog, EventSpec
from emporium_kit.resilience import DependencyUnavailable

from emporium_search.indexer import Indexer, IndexNotReadyError
from emporium_search.models import (
    CategoryChangedView,
    PriceChangedView,
    ProductArchivedView,
    ProductView,
)

CATALOG = "catalog"

events = EventCatalog("search")

ProductCreated = events.consumes(EventSpec(CATALOG, "ProductCreated", ProductView))
ProductUpdated = events.consumes(EventSpec(CATALOG, "ProductUpdated", ProductView))
PriceChanged = events.consumes(EventSpec(CATALOG, "PriceChanged", PriceChangedView))
ProductArchived = events.consumes(EventSpec(CATALOG, "ProductArchived", ProductArchivedView))
CategoryChanged = events.consumes(EventSpec(CATALOG, "CategoryChanged", CategoryChangedView))


# -- handlers: translate an event into one indexer call ------------------------------------

IndexHandler = Callable[[Indexer, Event[Any]], Awaitable[object]]


async def on_product(indexer: Indexer, event: Event[ProductView]) -> object:
    return await indexer.upsert([event.data])


async def on_price_changed(indexer: Indexer, event: Event[PriceChangedView]) -> object:
    data = event.data
    return await indexer.apply_price(data.product_id, data.version, data.new_price)


async def on_product_archived(indexer: Indexer, event: Event[ProductArchivedView]) -> object:
    return await indexer.archive(event.data.product_id, event.data.version)


async def on_category_changed(indexer: Indexer, event: Event[CategoryChangedView]) -> object:
    data = event.data
    if data.deleted:
        # the catalog deletes only empty categories: no product to rewrite
        return await indexer.delete_category(data.category_id, data.version)
    await indexer.put_categories([data.category()])
    # even when the table already had this version (a product event fetched it from the
    # catalog first), products written before that may carry the older path
    return await indexer.reindex_category(data.category_id)


HANDLERS: dict[EventSpec[Any], IndexHandler] = {
    ProductCreated: on_product,
    ProductUpdated: on_product,
    PriceChanged: on_price_changed,
    ProductArchived: on_product_archived,
    CategoryChanged: on_category_changed,
}

# What "a dependency is down" looks like from a handler: the breaker is open or timed out,
# the index is not there yet, or the connection failed before the breaker opened. The
# consumer worker waits these out (OpenSearch probed) instead of failing the delivery.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    DependencyUnavailable,
    IndexNotReadyError,
    opensearchpy.ConnectionError,
    httpx.TransportError,
)
