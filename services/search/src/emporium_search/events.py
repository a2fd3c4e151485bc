"""The events search consumes, their handlers, and the indexing worker — in one place.

Search publishes nothing. It consumes the catalog's product and category events (durable
consumer ``search-indexer`` on ``EMPORIUM_CATALOG``) with its own tolerant-reader payload
views. :data:`HANDLERS` maps each event to one indexer call; consuming another event (the
inventory service's availability events, order counts for popularity) is a ``consumes``
declaration and one entry there.

Handlers are idempotent by construction: every write carries the aggregate's version as an
external version, so a redelivery, a duplicate or an older event is a version conflict and
changes nothing (the kit's processed-event store only saves the repeated work).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import httpx
import opensearchpy
from emporium_kit.clients import NatsStore, OpenSearchStore
from emporium_kit.events import (
    Event,
    EventCatalog,
    EventConsumer,
    EventSpec,
    ProcessedEvents,
    ensure_streams,
)
from emporium_kit.resilience import DependencyUnavailable
from nats.js.api import ConsumerConfig, DeliverPolicy

from emporium_search.indexer import Indexer, IndexNotReadyError
from emporium_search.models import (
    CategoryChangedView,
    PriceChangedView,
    ProductArchivedView,
    ProductView,
)

log = logging.getLogger(__name__)

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

RETRY_PAUSE_S = 1.0

# What "a dependency is down" looks like from a handler: the breaker is open or timed out,
# the index is not there yet, or the connection failed before the breaker opened.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    DependencyUnavailable,
    IndexNotReadyError,
    opensearchpy.ConnectionError,
    httpx.TransportError,
)


class IndexerConsumer(EventConsumer):
    """The kit's consumer with a choice of where a new durable starts (see settings)."""

    def __init__(self, *args: Any, deliver_new: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deliver_new = deliver_new

    def consumer_config(self, subjects: Sequence[str]) -> ConsumerConfig:
        config = super().consumer_config(subjects)
        if self._deliver_new:
            return dataclasses.replace(config, deliver_policy=DeliverPolicy.NEW)
        return config


class IndexingWorker:
    """Background worker: bootstrap the indices, then consume catalog events.

    ``start()`` returns at once; the bootstrap (streams, category table, live alias) is
    retried with backoff in the background, so the service starts and answers ``/readyz``
    while OpenSearch or NATS is still down. A handler that meets an outage waits (up to
    ``outage_wait_s``, keeping the message in progress) until the dependency answers again
    and retries: an outage never burns delivery attempts, so it never dead-letters events.
    """

    def __init__(
        self,
        *,
        indexer: Indexer,
        bus: NatsStore,
        opensearch: OpenSearchStore,
        consumer_factory: Callable[[], EventConsumer],
        processed: ProcessedEvents,
        outage_wait_s: float = 120.0,
        retention_s: float = 3600.0,
        prune_interval_s: float = 300.0,
    ) -> None:
        self.indexer = indexer
        self._bus = bus
        self._opensearch = opensearch
        self._consumer_factory = consumer_factory
        self._processed = processed
        self._outage_wait_s = outage_wait_s
        self._retention = timedelta(seconds=retention_s)
        self._prune_interval_s = prune_interval_s
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pruning: asyncio.Task[None] | None = None
        self.consumer: EventConsumer | None = None
        self.ready = asyncio.Event()  # set once the consumer runs

    async def start(self) -> None:
        self._closing.clear()
        self._task = asyncio.create_task(self._bootstrap(), name="search-indexing-bootstrap")

    async def stop(self) -> None:
        self._closing.set()
        for task in (self._task, self._pruning):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.consumer is not None:
            await self.consumer.stop()

    async def _bootstrap(self) -> None:
        delay = 0.5
        while not self._closing.is_set():
            try:
                async with self._bus.dependency.guard():
                    await ensure_streams(self._bus.js, events.domains)
                await self.indexer.admin.bootstrap()
                consumer = self._consumer_factory()
                for spec, handler in HANDLERS.items():
                    consumer.subscribe(spec, self._resilient(handler))
                await consumer.start()
            except Exception as exc:
                log.warning("indexing bootstrap failed; retrying in %.1fs: %r", delay, exc)
                await self._pause(delay)
                delay = min(delay * 2, 10.0)
                continue
            self.consumer = consumer
            self._pruning = asyncio.create_task(self._prune(), name="search-processed-prune")
            self.ready.set()
            log.info("indexing started", extra={"consumer": consumer.name})
            return

    async def _prune(self) -> None:
        """Delete processed-event records older than the retention, every interval."""
        while not self._closing.is_set():
            try:
                pruned = await self._processed.prune(older_than=self._retention)
                if pruned:
                    log.info("pruned %d processed-event records", pruned)
            except Exception as exc:
                log.warning("pruning processed events failed: %r", exc)
            await self._pause(self._prune_interval_s)

    def _resilient(self, handler: IndexHandler) -> Callable[[Event[Any]], Awaitable[None]]:
        async def handle(event: Event[Any]) -> None:
            deadline = time.monotonic() + self._outage_wait_s
            while True:
                try:
                    await handler(self.indexer, event)
                    return
                except OUTAGE_ERRORS as exc:
                    if self._closing.is_set() or time.monotonic() >= deadline:
                        raise
                    log.warning("%s %s waits for a dependency: %r", event.type, event.id, exc)
                    await self._wait_for_dependencies(deadline)

        return handle

    async def _wait_for_dependencies(self, deadline: float) -> None:
        """Pause, then wait until OpenSearch answers a probe (or the deadline passes). A
        catalog outage shows up again on the retry; its breaker paces those retries."""
        await self._pause(RETRY_PAUSE_S)
        while not self._closing.is_set() and time.monotonic() < deadline:
            if (await self._opensearch.dependency.probe()).ok:
                self.indexer.forget_targets()
                return
            await self._pause(RETRY_PAUSE_S)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._closing.wait()
