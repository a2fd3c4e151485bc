"""The events search consumes and their handler, in one place.

Search publishes nothing. It consumes the catalog's product and category events (durable
consumer ``search-indexer`` on ``EMPORIUM_CATALOG``, run by the kit's ``ConsumerWorker`` as
a *batch* consumer) with its own tolerant-reader payload views. :func:`handle_batch`
translates a fetched batch into indexer calls: each product event becomes a
:class:`~emporium_search.indexer.Change` (:data:`CHANGES`), all of them applied by one
:meth:`Indexer.apply` (bulk writes); category events are applied one by one, they are rare.
Availability arrives with the catalog's ``ProductUpdated``: the catalog records the
inventory's stock levels and publishes when a product's availability changes. Consuming
another event (order counts for popularity) is a ``consumes`` declaration and one entry in
:data:`CHANGES`.
:data:`OUTAGE_ERRORS` are the failures the worker waits out rather than counting against
the deliveries.

Handlers are idempotent by construction: every write carries the aggregate's version as an
external version, so a redelivery, a duplicate or an older event is a version conflict and
changes nothing. That is why search keeps no processed-event records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx
import opensearchpy
from emporium_kit.events import BatchResult, Event, EventCatalog, EventSpec
from emporium_kit.resilience import DependencyUnavailable

from emporium_search.indexer import Change, Indexer, IndexingError, IndexNotReadyError
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


# -- the handler: translate a batch of events into indexer calls ---------------------------


def _whole(event: Event[ProductView]) -> Change:
    return Change(event.id, event.data.id, event.data.version, product=event.data)


def _price(event: Event[PriceChangedView]) -> Change:
    data = event.data
    return Change(event.id, data.product_id, data.version, price=data.new_price)


def _archived(event: Event[ProductArchivedView]) -> Change:
    return Change(event.id, event.data.product_id, event.data.version, archived=True)


CHANGES: dict[str, Callable[[Event[Any]], Change]] = {
    ProductCreated.type: _whole,
    ProductUpdated.type: _whole,
    PriceChanged.type: _price,
    ProductArchived.type: _archived,
}
HANDLED = (ProductCreated, ProductUpdated, PriceChanged, ProductArchived, CategoryChanged)


async def on_category_changed(indexer: Indexer, event: Event[CategoryChangedView]) -> object:
    data = event.data
    if data.deleted:
        # the catalog deletes only empty categories: no product to rewrite
        return await indexer.delete_category(data.category_id, data.version)
    await indexer.put_categories([data.category()])
    # even when the table already had this version (a product event fetched it from the
    # catalog first), products written before that may carry the older path
    return await indexer.reindex_category(data.category_id)


async def handle_batch(indexer: Indexer, batch: Sequence[Event[Any]]) -> BatchResult:
    """Index a batch; report per event what could not be applied. An outage raises (the
    worker holds the whole batch until OpenSearch answers)."""
    failed: dict[str, BaseException] = {}
    changes: list[Change] = []
    for event in batch:
        if event.type == CategoryChanged.type:
            try:
                await on_category_changed(indexer, event)
            except OUTAGE_ERRORS:
                raise
            except Exception as exc:
                failed[event.id] = exc
        else:
            changes.append(CHANGES[event.type](event))
    if not changes:
        return BatchResult(failed)
    try:
        _, refused = await indexer.apply(changes)
        failed.update({key: IndexingError(reason) for key, reason in refused.items()})
    except OUTAGE_ERRORS:
        raise
    except Exception:
        # Something failed the batch as a whole: apply its changes one by one, so only the
        # events that fail on their own are retried (and, in the end, dead-lettered).
        for change in changes:
            try:
                _, refused = await indexer.apply([change])
            except OUTAGE_ERRORS:
                raise
            except Exception as exc:
                failed[change.key] = exc
            else:
                failed.update({key: IndexingError(reason) for key, reason in refused.items()})
    return BatchResult(failed)


# What "a dependency is down" looks like from a handler: the breaker is open or timed out,
# the index is not there yet, or the connection failed before the breaker opened. The
# consumer worker waits these out (OpenSearch probed) instead of failing the delivery.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    DependencyUnavailable,
    IndexNotReadyError,
    opensearchpy.ConnectionError,
    httpx.TransportError,
)
