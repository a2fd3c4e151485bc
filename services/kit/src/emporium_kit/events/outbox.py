"""The single-document outbox and the relay that publishes it.

A state change and the events it causes are written in ONE single-document write (FerretDB
has no multi-document transactions), so either both are stored or neither is::

    await products.update_one(
        {"_id": pid, "version": v},
        with_events({"$set": {...}, "$inc": {"version": 1}}, [event]),
    )
    await products.insert_one(with_outbox({"_id": pid, ...}, [event]))
    relay.notify()

:class:`OutboxRelay` finds documents with pending entries, publishes them in order (each
publish waits for JetStream's PubAck), then removes exactly those entries (``$pullAll``). A
crash between the publish and the removal republishes the same event id: JetStream drops it
inside the stream's duplicate window and consumers' processed-event store drops it after
that. Several relays (replicas) may run at once for the same reason. Only plain find/update
operators are used, so it runs on FerretDB 1.24 and MongoDB alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace
from pymongo.asynchronous.collection import AsyncCollection

from emporium_kit.events import metrics
from emporium_kit.events import tracing as tr
from emporium_kit.events._guard import Guard, JetStreamSource, or_unguarded
from emporium_kit.events.envelope import Event
from emporium_kit.events.publisher import DEFAULT_PUBLISH_TIMEOUT_S, EventPublisher

log = logging.getLogger(__name__)

OUTBOX_FIELD = "outbox"
OUTBOX_INDEX = "outbox_id"
PENDING_FILTER: dict[str, Any] = {f"{OUTBOX_FIELD}.id": {"$exists": True}}


def outbox_entry(event: Event[Any]) -> dict[str, Any]:
    """How an event waits in its document: the envelope plus the writer's trace context."""
    return {
        "id": event.id,
        "subject": event.subject,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "event": event.model_dump(mode="json"),
        "trace": tr.current_headers(),
    }


def with_events(update: Mapping[str, Any], events: Iterable[Event[Any]]) -> dict[str, Any]:
    """Return ``update`` plus ``$push: {outbox: {$each: [...]}}`` for ``events``.

    Use it for every update that changes state which other services learn about, so the
    change and its events land together.
    """
    if not isinstance(update, Mapping):
        raise TypeError("with_events needs an update document, not an aggregation pipeline")
    entries = [outbox_entry(e) for e in events]
    result = {op: dict(fields) for op, fields in update.items()}
    for op, fields in result.items():
        if op != "$push" and OUTBOX_FIELD in fields:
            raise ValueError(f"the update must not touch {OUTBOX_FIELD!r} with {op}")
    if not entries:
        return result
    push = result.setdefault("$push", {})
    existing = push.get(OUTBOX_FIELD)
    if existing is None:
        push[OUTBOX_FIELD] = {"$each": entries}
    else:
        push[OUTBOX_FIELD] = {"$each": [*existing["$each"], *entries]}
    return result


def with_outbox(document: Mapping[str, Any], events: Iterable[Event[Any]]) -> dict[str, Any]:
    """Return a new document to insert that carries ``events`` as pending."""
    result = dict(document)
    result[OUTBOX_FIELD] = [*result.get(OUTBOX_FIELD, ()), *(outbox_entry(e) for e in events)]
    return result


async def ensure_outbox_index(collection: AsyncCollection[Any]) -> None:
    await collection.create_index(f"{OUTBOX_FIELD}.id", name=OUTBOX_INDEX)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class OutboxRelay:
    """Background worker (``start()``/``stop()``) publishing pending outbox entries.

    It polls every ``poll_interval_s`` and runs a pass at once after :meth:`notify`, so an
    event written by this process is published within milliseconds; other replicas' writes
    are picked up by the poll.
    """

    def __init__(
        self,
        collections: Sequence[AsyncCollection[Any]],
        js: JetStreamSource,
        *,
        poll_interval_s: float = 0.5,
        batch_size: int = 100,
        publish_timeout_s: float = DEFAULT_PUBLISH_TIMEOUT_S,
        max_error_backoff_s: float = 5.0,
        nats_guard: Guard | None = None,
        mongo_guard: Guard | None = None,
        tracer: trace.Tracer | None = None,
    ) -> None:
        if not collections:
            raise ValueError("OutboxRelay needs at least one collection")
        self._collections = list(collections)
        self._publisher = EventPublisher(
            js, timeout_s=publish_timeout_s, guard=nats_guard, tracer=tracer
        )
        self._poll_interval_s = poll_interval_s
        self._batch_size = batch_size
        self._max_error_backoff_s = max_error_backoff_s
        self._mongo_guard = or_unguarded(mongo_guard)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._indexed = False
        self.passes = 0  # completed passes, for health checks and tests

    def notify(self) -> None:
        """Run a pass now (call after writing events)."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        self._wake.set()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Finish the document in hand (its publishes and removal), then return."""
        if self._task is None:
            return
        self._stopping.set()
        self._wake.set()
        task, self._task = self._task, None
        await task

    async def _run(self) -> None:
        error_backoff = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                if not self._indexed:
                    for collection in self._collections:
                        async with self._mongo_guard():
                            await ensure_outbox_index(collection)
                    self._indexed = True
                published, complete, failed = await self._pass()
                self.passes += 1
            except Exception:
                log.exception("outbox relay pass failed")
                published, complete, failed = 0, True, True
            if failed and not published:
                error_backoff = min(max(error_backoff * 2, 0.1), self._max_error_backoff_s)
                await self._sleep(error_backoff, wakeable=False)
                continue
            error_backoff = 0.0
            if published and not complete:
                continue  # a full batch: more documents are waiting
            await self._sleep(self._poll_interval_s, wakeable=True)

    async def _sleep(self, seconds: float, *, wakeable: bool) -> None:
        waiter = self._wake if wakeable else self._stopping
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await waiter.wait()

    async def run_once(self) -> int:
        """One pass over every collection; returns how many entries were published."""
        published, _, _ = await self._pass()
        return published

    async def _pass(self) -> tuple[int, bool, bool]:
        published, complete, failed = 0, True, False
        for collection in self._collections:
            count, done, error = await self._relay_collection(collection)
            published += count
            complete = complete and done
            failed = failed or error
            if self._stopping.is_set():
                break
        return published, complete, failed

    async def _relay_collection(self, collection: AsyncCollection[Any]) -> tuple[int, bool, bool]:
        async with self._mongo_guard():
            cursor = collection.find(PENDING_FILTER, {OUTBOX_FIELD: 1}).limit(self._batch_size)
            docs = await cursor.to_list()
        published, failed = 0, False
        oldest_pending: datetime | None = None
        pending = 0
        for doc in docs:
            entries: list[dict[str, Any]] = doc.get(OUTBOX_FIELD) or []
            done = 0
            if not self._stopping.is_set():
                done = await self._publish_in_order(collection.name, doc["_id"], entries)
            if done:
                # $pullAll of the entries exactly as read: FerretDB 1.24 ignores $pull with a
                # query condition ({"id": {"$in": ...}}), exact-value removal works on both.
                async with self._mongo_guard():
                    await collection.update_one(
                        {"_id": doc["_id"]}, {"$pullAll": {OUTBOX_FIELD: entries[:done]}}
                    )
                published += done
            left = entries[done:]
            if left:
                failed = failed or not self._stopping.is_set()
                pending += len(left)
                first = _as_utc(left[0]["occurred_at"])
                oldest_pending = first if oldest_pending is None else min(oldest_pending, first)
        lag = (datetime.now(UTC) - oldest_pending).total_seconds() if oldest_pending else 0.0
        metrics.RELAY_LAG.labels(collection.name).set(lag)
        metrics.RELAY_PENDING.labels(collection.name).set(pending)
        return published, len(docs) < self._batch_size, failed

    async def _publish_in_order(
        self, collection: str, doc_id: Any, entries: list[dict[str, Any]]
    ) -> int:
        """Publish entries in order, stopping at the first failure (per-aggregate order);
        returns how many were published."""
        done = 0
        for entry in entries:
            try:
                await self._publisher.publish_raw(
                    subject=entry["subject"],
                    payload=orjson.dumps(entry["event"]),
                    event_id=entry["id"],
                    event_type=entry["type"],
                    parent=entry.get("trace"),
                )
            except Exception as exc:
                log.warning(
                    "outbox publish failed; will retry",
                    extra={
                        "collection": collection,
                        "document_id": str(doc_id),
                        "event_id": entry.get("id"),
                        "error": repr(exc),
                    },
                )
                break
            done += 1
            occurred = _as_utc(entry["occurred_at"])
            metrics.RELAY_DELAY.observe((datetime.now(UTC) - occurred).total_seconds())
        return done
