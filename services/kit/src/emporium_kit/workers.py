"""The background workers a service hands to ``build_app(workers=[...])``, and the outbox drain
of its command-line tools.

::

    outbox = OutboxWorker(
        [mongo.db["products"]],
        bus=bus,
        catalog=events.catalog,
        replicas=settings.nats_stream_replicas,
        mongo_guard=mongo.dependency.guard,
    )                                      # writers call outbox.notify("products", [pid])
    indexing = ConsumerWorker(
        "search-indexer",
        bus=bus,
        processed=ProcessedEvents(mongo.db["processed_events"], guard=mongo.dependency.guard),
        catalog=events.events,
        handlers={ProductCreated: on_product_created},   # the service's one mapping
        replicas=settings.nats_stream_replicas,
        outage=Outage(opensearch.dependency, errors=(DependencyUnavailable,)),
    )
    janitor = PeriodicTask("identity-housekeeping", housekeeping, interval_s=300)

    result = await drain_outbox(settings, [db["users"]], catalog=events.identity)   # a CLI

``start()`` of every worker returns at once. The outbox and consumer workers bootstrap in
the background (streams, indexes, the durable), retrying with backoff while NATS or Mongo is
down, so the service starts and serves what needs neither. ``stop()`` returns promptly: it
interrupts a bootstrap or a periodic run, and lets the consumer finish the message in hand.

Retries are a stop-aware loop rather than tenacity: each wait must end the moment the worker
stops, and the loop is a few lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from nats.errors import Error as NatsError
from pymongo.asynchronous.collection import AsyncCollection

from emporium_kit.clients import NatsStore
from emporium_kit.events._guard import Guard
from emporium_kit.events.consumer import (
    DEFAULT_BACKOFF_S,
    BatchHandler,
    BatchResult,
    Deliver,
    EventConsumer,
)
from emporium_kit.events.envelope import Event, EventCatalog, EventSpec
from emporium_kit.events.outbox import DEFAULT_SETTLE_S, PENDING_FILTER, DocumentLock, OutboxRelay
from emporium_kit.events.processed import ProcessedEvents
from emporium_kit.events.streams import DEFAULT_MAX_AGE_S, ensure_streams
from emporium_kit.resilience import Dependency, DependencyUnavailable
from emporium_kit.settings import ServiceSettings

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]
EventHandler = Callable[[Event[Any]], Awaitable[object]]

BOOTSTRAP_FIRST_RETRY_S = 0.5
BOOTSTRAP_MAX_RETRY_S = 10.0
DRAIN_DEADLINE_S = 60.0


async def _pause(stopping: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stopping`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stopping.wait()


async def _until_done(what: str, attempt: Job, stopping: asyncio.Event) -> bool:
    """Run ``attempt`` until it succeeds (True) or the worker stops (False)."""
    delay = BOOTSTRAP_FIRST_RETRY_S
    while not stopping.is_set():
        try:
            await attempt()
            return True
        except Exception as exc:
            log.warning("%s failed; retrying in %.1fs: %r", what, delay, exc)
        await _pause(stopping, delay)
        delay = min(delay * 2, BOOTSTRAP_MAX_RETRY_S)
    return False


async def _cancel(task: asyncio.Task[Any] | None) -> None:
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- periodic tasks -------------------------------------------------------------------------


class PeriodicTask:
    """Runs ``fn`` every ``interval_s`` (± ``jitter`` of it) from start until stop.

    The first run comes one interval after :meth:`start`. The jitter keeps replicas started
    together from running the job together. A failure is logged (with its traceback the
    first time in a row) and the job is tried again sooner: after ``retry_s``, doubling on
    each further failure, never later than the interval; so a job that failed because a
    dependency was down runs again soon after it returns, without flooding the log.
    :meth:`stop` cancels a run in progress: jobs must be safe to cut off and repeat.
    """

    def __init__(
        self,
        name: str,
        fn: Job,
        *,
        interval_s: float,
        jitter: float = 0.1,
        retry_s: float = 1.0,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        if not 0 <= jitter < 1:
            raise ValueError("jitter is a fraction of the interval, in [0, 1)")
        self.name = name
        self._fn = fn
        self._interval_s = interval_s
        self._jitter = jitter
        self._retry_s = min(retry_s, interval_s)
        self._task: asyncio.Task[None] | None = None
        self.runs = 0  # successful runs, for health checks and tests
        self.failures = 0  # failed runs since the last success

    def _jittered(self, seconds: float) -> float:
        return seconds * random.uniform(1 - self._jitter, 1 + self._jitter)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        await _cancel(task)

    async def _run(self) -> None:
        delay = self._interval_s
        while True:
            await asyncio.sleep(self._jittered(delay))
            try:
                await self._fn()
            except Exception as exc:
                self.failures += 1
                delay = min(self._retry_s * 2 ** (self.failures - 1), self._interval_s)
                log.warning(
                    "%s failed (%d in a row); next try in about %.1fs: %r",
                    self.name,
                    self.failures,
                    delay,
                    exc,
                    exc_info=self.failures == 1,
                )
                continue
            self.runs += 1
            self.failures = 0
            delay = self._interval_s


# -- the outbox ---------------------------------------------------------------------------


class OutboxWorker:
    """Publishes a service's outbox: ensures its streams, then runs the :class:`OutboxRelay`.

    The streams are those of every domain in ``catalog`` (published and consumed), with
    ``replicas`` (the ``nats_stream_replicas`` setting) and never fewer than a stream already
    has. Until NATS answers, the bootstrap is retried in the background; writes meanwhile
    wait in their documents. ``document_lock`` is the writers' per-document lock, held by
    the relay while it removes published entries (see :class:`OutboxRelay`).
    """

    def __init__(
        self,
        collections: Sequence[AsyncCollection[Any]],
        *,
        bus: NatsStore,
        catalog: EventCatalog,
        replicas: int,
        mongo_guard: Guard | None = None,
        document_lock: DocumentLock | None = None,
        poll_interval_s: float = 30.0,
        settle_s: float = DEFAULT_SETTLE_S,
    ) -> None:
        self._bus = bus
        self._domains = catalog.domains
        self._replicas = replicas
        self.relay = OutboxRelay(
            collections,
            lambda: bus.js,  # the connection exists only once the app has started
            poll_interval_s=poll_interval_s,
            settle_s=settle_s,
            nats_guard=bus.dependency.guard,
            mongo_guard=mongo_guard,
            document_lock=document_lock,
        )
        self.ready = asyncio.Event()  # set once the streams exist and the relay runs
        self._stopping = asyncio.Event()
        self._bootstrap: asyncio.Task[None] | None = None

    def notify(
        self,
        collection: str,
        ids: Iterable[Any] = (),
        *,
        inserted: Mapping[Any, Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        """Writers call this after a write that added events: those documents are
        published at once instead of at the next sweep (see :meth:`OutboxRelay.notify`,
        also for ``inserted``)."""
        self.relay.notify(collection, ids, inserted=inserted)

    async def start(self) -> None:
        if self._bootstrap is None:
            self._stopping.clear()
            self._bootstrap = asyncio.create_task(self._run(), name="outbox-bootstrap")

    async def stop(self) -> None:
        """Interrupt the bootstrap, or let the relay finish the document in hand."""
        self._stopping.set()
        task, self._bootstrap = self._bootstrap, None
        await _cancel(task)
        await self.relay.stop()
        self.ready.clear()

    async def _run(self) -> None:
        if await _until_done("outbox bootstrap", self._ensure_streams, self._stopping):
            await self.relay.start()
            self.ready.set()

    async def _ensure_streams(self) -> None:
        async with self._bus.dependency.guard():
            await ensure_streams(self._bus.js, self._domains, replicas=self._replicas)


@dataclass(frozen=True)
class DrainResult:
    """What :func:`drain_outbox` did: events published, documents still holding events."""

    published: int
    remaining: int

    def __str__(self) -> str:
        done = f"published {self.published} event(s)"
        if not self.remaining:
            return done
        return (
            f"{done}; {self.remaining} document(s) still hold events: "
            "the service's outbox worker will publish them"
        )


async def drain_outbox(
    settings: ServiceSettings,
    collections: Sequence[AsyncCollection[Any]],
    *,
    catalog: EventCatalog,
    deadline_s: float = DRAIN_DEADLINE_S,
    settle_s: float = 0.0,
    document_lock: DocumentLock | None = None,
) -> DrainResult:
    """Publish now what a command-line tool just wrote, instead of leaving it to the service.

    The stop rule: publish pass after pass until the outboxes are empty or ``deadline_s``
    has passed (NATS unreachable counts as time passing), then leave whatever remains in the
    documents, where the service's :class:`OutboxWorker` publishes it, and say so in the
    result. ``settle_s`` and ``document_lock`` are the relay's: a tool whose documents the
    running service may also write keeps the service's settle time and lock; a tool that
    alone writes fresh documents can remove published entries at once (``settle_s=0``).
    """
    bus = NatsStore(settings)
    relay = OutboxRelay(collections, lambda: bus.js, settle_s=settle_s, document_lock=document_lock)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    published, streams, warned = 0, False, False
    await bus.start()
    try:
        while True:
            count = 0
            try:
                if not streams:
                    await ensure_streams(
                        bus.js, catalog.domains, replicas=settings.nats_stream_replicas
                    )
                    streams = True
                count = await relay.run_once()
            except (ConnectionError, TimeoutError, NatsError) as exc:
                if not warned:
                    log.warning("cannot publish yet; trying until the deadline: %r", exc)
                    warned = True
            published += count
            remaining = sum([await c.count_documents(PENDING_FILTER) for c in collections])
            if not remaining or loop.time() >= deadline:
                return DrainResult(published, remaining)
            if not count:  # entries settling, or NATS away: give them a moment
                await asyncio.sleep(max(settle_s / 2, 0.1))
    finally:
        await bus.close()


# -- consumers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outage:
    """A dependency the handlers cannot work without (search: OpenSearch).

    A handler that raises one of ``errors`` is not failed at once: the worker keeps the
    message in progress, probes ``dependency`` every ``pause_s`` until it answers, and runs
    the handler again, for up to ``wait_s``. An outage therefore does not burn delivery
    attempts and does not dead-letter events. After ``wait_s`` (or on stop) the error goes
    to the consumer, which gives the message back with backoff.
    """

    dependency: Dependency
    errors: tuple[type[BaseException], ...] = (DependencyUnavailable,)
    wait_s: float = 120.0
    pause_s: float = 1.0


class ConsumerWorker:
    """A service's durable consumer: one mapping of handlers, bootstrapped and kept tidy.

    In the background, retried with backoff until it succeeds: ensure the streams of the
    handled domains (``replicas``, never scaling a stream down), run ``setup`` (the
    service's own preparation, e.g. search's index bootstrap), then create or update the
    durable (:class:`EventConsumer`, starting at ``deliver`` when new) and start it. Then
    it prunes the processed-event records older than ``processed_retention_s`` every
    ``prune_interval_s``. With an ``outage`` declared, the handlers wait it out (see
    :class:`Outage`), and a per-event consumer fetches one message at a time so that no
    fetched message waits past its ack wait behind a handler that waits.

    Either ``handlers`` (one handler per event type, one event at a time) or
    ``batch_handler`` with the specs it ``handles`` (whole batches of up to ``batch_size``
    events, filled for at most ``max_wait_s``; see :meth:`EventConsumer.subscribe_batch`).
    ``processed=None`` keeps no idempotency records: only for handlers whose target store
    makes a repeated event a no-op (versions), see docs/events.md.
    """

    def __init__(
        self,
        name: str,
        *,
        bus: NatsStore,
        processed: ProcessedEvents | None,
        catalog: EventCatalog,
        handlers: Mapping[EventSpec[Any], EventHandler] | None = None,
        batch_handler: BatchHandler | None = None,
        handles: Sequence[EventSpec[Any]] = (),
        replicas: int,
        deliver: Deliver = "all",
        max_deliver: int = 5,
        ack_wait_s: float = 30.0,
        backoff_s: Sequence[float] = DEFAULT_BACKOFF_S,
        batch_size: int | None = None,
        fetch_timeout_s: float = 1.0,
        max_wait_s: float = 0.0,
        setup: Job | None = None,
        outage: Outage | None = None,
        processed_retention_s: float = DEFAULT_MAX_AGE_S,
        prune_interval_s: float = 300.0,
    ) -> None:
        if (handlers is None) == (batch_handler is None):
            raise ValueError(f"consumer {name} needs either handlers or a batch_handler")
        specs = list(handlers or ()) if batch_handler is None else list(handles)
        if not specs:
            raise ValueError(f"consumer {name} has no handlers")
        unknown = [s.subject for s in specs if s not in catalog.consumed]
        if unknown:
            raise LookupError(f"{catalog.service} does not declare consuming {unknown}")
        self.name = name
        self._bus = bus
        self._processed = processed
        self._catalog = catalog
        self._handlers = dict(handlers or {})
        self._batch_handler = batch_handler
        self._specs = specs
        self._domains = sorted({spec.domain for spec in specs})
        self._replicas = replicas
        self._setup = setup
        self._outage = outage
        self._options: dict[str, Any] = {
            "deliver": deliver,
            "max_deliver": max_deliver,
            "ack_wait_s": ack_wait_s,
            "backoff_s": backoff_s,
            "batch_size": batch_size or (1 if outage and batch_handler is None else 10),
            "fetch_timeout_s": fetch_timeout_s,
            "max_wait_s": max_wait_s,
        }
        self._retention = timedelta(seconds=processed_retention_s)
        self._pruning = PeriodicTask(f"{name}-prune", self._prune, interval_s=prune_interval_s)
        self._stopping = asyncio.Event()
        self._bootstrap: asyncio.Task[None] | None = None
        self.consumer: EventConsumer | None = None
        self.ready = asyncio.Event()  # set once the durable consumer runs

    async def start(self) -> None:
        if self._bootstrap is None:
            self._stopping.clear()
            self._bootstrap = asyncio.create_task(self._run(), name=f"{self.name}-bootstrap")

    async def stop(self) -> None:
        """Interrupt the bootstrap and outage waits, let the handler in hand finish (see
        :meth:`EventConsumer.stop`), then return."""
        self._stopping.set()
        task, self._bootstrap = self._bootstrap, None
        await _cancel(task)
        await self._pruning.stop()
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            await consumer.stop()
        self.ready.clear()

    async def _run(self) -> None:
        if await _until_done(f"consumer {self.name} bootstrap", self._start, self._stopping):
            if self._processed is not None:
                await self._pruning.start()
            self.ready.set()
            log.info("consumer %s started", self.name)

    async def _start(self) -> None:
        async with self._bus.dependency.guard():
            await ensure_streams(self._bus.js, self._domains, replicas=self._replicas)
        if self._setup is not None:
            await self._setup()
        consumer = EventConsumer(
            self.name,
            lambda: self._bus.js,
            self._processed,
            catalog=self._catalog,
            nats_guard=self._bus.dependency.guard,
            **self._options,
        )
        if self._batch_handler is not None:
            consumer.subscribe_batch(
                self._specs, self._outage_aware_batch(self._batch_handler, self._outage)
            )
        for spec, handler in self._handlers.items():
            consumer.subscribe(spec, self._outage_aware(handler, self._outage))
        try:
            await consumer.start()
        except BaseException:
            await consumer.stop()  # a durable of another domain may already be fetching
            raise
        self.consumer = consumer

    async def _prune(self) -> None:
        if self._processed is None:
            return
        pruned = await self._processed.prune(older_than=self._retention)
        if pruned:
            log.info("consumer %s: pruned %d processed-event records", self.name, pruned)

    def _outage_aware(
        self, handler: EventHandler, outage: Outage | None
    ) -> Callable[[Event[Any]], Awaitable[None]]:
        async def handle(event: Event[Any]) -> None:
            if outage is None:
                await handler(event)
                return
            deadline = time.monotonic() + outage.wait_s
            while True:
                try:
                    await handler(event)
                    return
                except outage.errors as exc:
                    if self._stopping.is_set() or time.monotonic() >= deadline:
                        raise
                    log.warning(
                        "consumer %s: %s %s waits for %s: %r",
                        self.name,
                        event.type,
                        event.id,
                        outage.dependency.name,
                        exc,
                    )
                    if not await self._recovered(outage, deadline):
                        raise

        return handle

    def _outage_aware_batch(self, handler: BatchHandler, outage: Outage | None) -> BatchHandler:
        """The batch form of :meth:`_outage_aware`: an outage error raised by the batch
        handler holds the whole batch (in progress) until the dependency answers."""

        async def handle(events: Sequence[Event[Any]]) -> BatchResult | None:
            if outage is None:
                return await handler(events)
            deadline = time.monotonic() + outage.wait_s
            while True:
                try:
                    return await handler(events)
                except outage.errors as exc:
                    if self._stopping.is_set() or time.monotonic() >= deadline:
                        raise
                    log.warning(
                        "consumer %s: a batch of %d waits for %s: %r",
                        self.name,
                        len(events),
                        outage.dependency.name,
                        exc,
                    )
                    if not await self._recovered(outage, deadline):
                        raise

        return handle

    async def _recovered(self, outage: Outage, deadline: float) -> bool:
        """Pause, then probe until the dependency answers (True) or the deadline passes or
        the worker stops (False). Other dependencies a handler uses show up again on the
        retry; their breakers pace it."""
        await _pause(self._stopping, outage.pause_s)
        while not self._stopping.is_set() and time.monotonic() < deadline:
            if (await outage.dependency.probe()).ok:
                return True
            await _pause(self._stopping, outage.pause_s)
        return False
