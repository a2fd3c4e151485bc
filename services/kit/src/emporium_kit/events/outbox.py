"""The single-document outbox and the relay that publishes it.

A state change and the events it causes are written in ONE single-document write (FerretDB
has no multi-document transactions), so either both are stored or neither is::

    await products.update_one(
        {"_id": pid, "version": v},
        with_events({"$set": {...}, "$inc": {"version": 1}}, [event]),
    )
    await products.insert_one(with_outbox({"_id": pid, ...}, [event]))
    relay.notify("products", [pid])

:class:`OutboxRelay` finds documents with pending entries, publishes them in order (each
publish waits for JetStream's PubAck), then, once the document has been quiet for a moment,
removes exactly those entries (``$pullAll``). A crash between the publish and the removal
republishes the same event id: JetStream drops it inside the stream's duplicate window and
consumers' processed-event store drops it after that. Several relays (replicas) may run at
once for the same reason. Only plain find/update operators are used, so it runs on FerretDB
1.24 and MongoDB alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace
from pymongo.asynchronous.collection import AsyncCollection

from emporium_kit.events import metrics
from emporium_kit.events import tracing as tr
from emporium_kit.events._guard import Guard, JetStreamSource, or_unguarded
from emporium_kit.events.envelope import Event
from emporium_kit.events.publisher import DEFAULT_PUBLISH_TIMEOUT_S, EventPublisher, Outgoing

log = logging.getLogger(__name__)

OUTBOX_FIELD = "outbox"
OUTBOX_INDEX = "outbox_id"
PENDING_FILTER: dict[str, Any] = {f"{OUTBOX_FIELD}.id": {"$exists": True}}
DEFAULT_SETTLE_S = 2.0
PUBLISHED_MEMORY_S = 600.0
LOOKUP_CONCURRENCY = 32  # concurrent `_id` lookups of one pass (reads only, see _removals)

# (collection name, document id) -> a context held while the relay removes entries from
# that document: the writers' own lock, where a service serialises writes per aggregate
DocumentLock = Callable[[str, Any], AbstractAsyncContextManager[Any]]


def outbox_entry(event: Event[Any]) -> dict[str, Any]:
    """How an event waits in its document: the envelope plus the writer's trace context."""
    # milliseconds, as BSON stores a date: an entry kept in memory then equals the stored
    # one, which `$pullAll` needs (see OutboxRelay.notify(inserted=...))
    occurred = event.occurred_at
    return {
        "id": event.id,
        "subject": event.subject,
        "type": event.type,
        "occurred_at": occurred.replace(microsecond=occurred.microsecond // 1000 * 1000),
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

    Two ways find pending entries. :meth:`notify` with the written documents' ids runs a
    targeted pass at once: one ``_id`` lookup per document, the only query FerretDB 1.24's
    SQLite backend pushes down, so an event written by this process is published within
    milliseconds at almost no cost. A full sweep (every ``poll_interval_s``, at start, and on
    a bare ``notify()``) is the safety net for entries nobody pointed at: another replica that
    crashed after writing, or a write made just before a restart. On FerretDB a sweep decodes
    the whole collection, which is why it is not the fast path.

    Publishing only reads the document. Removing the published entries is the relay's one
    write to it, and it waits until the document's newest entry is ``settle_s`` old: FerretDB
    1.24 applies an update as read-modify-write without concurrency control, so a removal
    racing a service's write to the same document could silently undo that write. A quiet
    document makes that race as unlikely as two clients writing one document at once. On
    MongoDB updates are atomic and ``settle_s=0`` is safe. Until removal, this relay
    remembers what it published and does not publish it again; another replica may, and
    JetStream drops that copy as a duplicate. A service that serialises its writers with a
    per-document lock passes it as ``document_lock``; the removal then holds it too and can
    never interleave with a write.
    """

    def __init__(
        self,
        collections: Sequence[AsyncCollection[Any]],
        js: JetStreamSource,
        *,
        poll_interval_s: float = 30.0,
        settle_s: float = DEFAULT_SETTLE_S,
        batch_size: int = 500,
        publish_timeout_s: float = DEFAULT_PUBLISH_TIMEOUT_S,
        max_error_backoff_s: float = 5.0,
        nats_guard: Guard | None = None,
        mongo_guard: Guard | None = None,
        tracer: trace.Tracer | None = None,
        document_lock: DocumentLock | None = None,
    ) -> None:
        if not collections:
            raise ValueError("OutboxRelay needs at least one collection")
        self._document_lock = document_lock
        self._collections = {c.name: c for c in collections}
        self._publisher = EventPublisher(
            js, timeout_s=publish_timeout_s, guard=nats_guard, tracer=tracer
        )
        self._poll_interval_s = poll_interval_s
        self._settle_s = settle_s
        self._published: dict[str, float] = {}  # event id -> when this relay published it
        self._hints: dict[str, set[Any]] = {}  # collection -> ids written since the last pass
        self._settling: dict[tuple[str, Any], float] = {}  # published, removal due (monotonic)
        self._sweep_due = 0.0
        self._batch_size = batch_size
        self._max_error_backoff_s = max_error_backoff_s
        self._mongo_guard = or_unguarded(mongo_guard)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # published entries waiting for their removal, one document at a time: FerretDB's
        # SQLite backend refuses concurrent writes (SQLITE_BUSY) rather than queueing them
        self._removals: dict[tuple[str, Any], list[dict[str, Any]]] = {}
        self._removals_ready = asyncio.Event()
        # documents handed over by notify(inserted=...): their whole outbox, as inserted
        self._inserted: dict[tuple[str, Any], list[dict[str, Any]]] = {}
        self._remover: asyncio.Task[None] | None = None
        self._indexed = False
        self.passes = 0  # completed passes, for health checks and tests

    def notify(
        self,
        collection: str | None = None,
        ids: Iterable[Any] = (),
        *,
        inserted: Mapping[Any, Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        """Publish now what was just written: ``notify("products", [pid])`` looks at those
        documents only; a bare ``notify()`` sweeps every collection.

        ``inserted`` hands over documents just *inserted*, each with the outbox entries it
        was inserted with (``doc["outbox"]`` of :func:`with_outbox`): that is all a fresh
        document holds, so the relay publishes them without reading the document back, and
        removes exactly them afterwards. Never pass an updated document's entries this way:
        it may hold older pending entries that must go first.
        """
        if collection is None:
            self._sweep_due = 0.0
        else:
            if collection not in self._collections:
                raise ValueError(f"the relay does not watch collection {collection!r}")
            hints = self._hints.setdefault(collection, set())
            for doc_id in ids:
                # written again since its insert: it may hold more than was handed over
                self._inserted.pop((collection, doc_id), None)
                hints.add(doc_id)
            for doc_id, entries in (inserted or {}).items():
                self._inserted[(collection, doc_id)] = [dict(e) for e in entries]
                hints.add(doc_id)
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        self._sweep_due = 0.0
        self._wake.set()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")
        self._remover = asyncio.create_task(self._run_removals(), name="outbox-remover")

    async def stop(self) -> None:
        """Finish the pass and the removal in hand, then return. Removals still queued are
        left: their entries stay in the documents, and the next relay publishes them again
        (JetStream, or the consumers' idempotency, drops the copies)."""
        if self._task is None:
            return
        self._stopping.set()
        self._wake.set()
        self._removals_ready.set()
        task, self._task = self._task, None
        remover, self._remover = self._remover, None
        await task
        if remover is not None:
            await remover
        self._removals.clear()

    async def _run_removals(self) -> None:
        while not self._stopping.is_set():
            await self._removals_ready.wait()
            self._removals_ready.clear()
            await self._remove_queued()

    async def _remove_queued(self) -> None:
        """Remove the queued published entries, document by document. A failed removal
        leaves the document to a later pass, which queues it again."""
        while self._removals and not self._stopping.is_set():
            key = next(iter(self._removals))
            entries = self._removals.pop(key)
            name, doc_id = key
            try:
                await self._remove(self._collections[name], doc_id, entries)
            except Exception as exc:
                log.warning(
                    "outbox removal failed; retried on a later pass",
                    extra={"collection": name, "document_id": str(doc_id), "error": repr(exc)},
                )
                self._settling[key] = time.monotonic() + self._max_error_backoff_s

    async def _run(self) -> None:
        error_backoff = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                if not self._indexed:
                    for collection in self._collections.values():
                        async with self._mongo_guard():
                            await ensure_outbox_index(collection)
                    self._indexed = True
                # what writers pointed at first: a sweep reads every pending document
                if self._targets_due() or time.monotonic() < self._sweep_due:
                    published, complete, failed = await self._targeted_pass()
                else:
                    published, complete, failed = await self._pass()
                    if not failed:
                        self._sweep_due = time.monotonic() + self._poll_interval_s
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
            await self._sleep(self._until_next_pass(), wakeable=True)

    def _targets_due(self) -> bool:
        now = time.monotonic()
        return any(self._hints.values()) or any(due <= now for due in self._settling.values())

    def _until_next_pass(self) -> float:
        due = min([self._sweep_due, *self._settling.values()])
        return max(0.0, due - time.monotonic())

    async def _sleep(self, seconds: float, *, wakeable: bool) -> None:
        waiter = self._wake if wakeable else self._stopping
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await waiter.wait()

    async def run_once(self) -> int:
        """One sweep over every collection, removals included; returns how many entries
        were published."""
        published, _, _ = await self._pass()
        await self._remove_queued()
        return published

    async def _pass(self) -> tuple[int, bool, bool]:
        """A sweep: every document with pending entries, ``batch_size`` at a time in ``_id``
        order (documents this relay published but has not cleaned up yet stay pending, so
        the sweep moves on by ``_id`` rather than re-reading the first batch)."""
        published, failed = 0, False
        for collection in self._collections.values():
            after: Any = None
            while not self._stopping.is_set():
                flt = PENDING_FILTER if after is None else {**PENDING_FILTER, "_id": {"$gt": after}}
                async with self._mongo_guard():
                    cursor = collection.find(flt, {OUTBOX_FIELD: 1}).sort("_id", 1)
                    docs = await cursor.limit(self._batch_size).to_list()
                count, error = await self._relay_documents(collection, docs)
                published += count
                failed = failed or error
                if len(docs) < self._batch_size:
                    break
                after = docs[-1]["_id"]
        return published, True, failed

    async def _targeted_pass(self) -> tuple[int, bool, bool]:
        now = time.monotonic()
        targets = {(name, i) for name, ids in self._hints.items() for i in ids}
        targets |= {key for key, due in self._settling.items() if due <= now}
        self._hints = {}
        by_collection: dict[str, list[Any]] = {}
        for name, doc_id in sorted(targets, key=str):
            by_collection.setdefault(name, []).append(doc_id)
        published, failed = 0, False
        for name, ids in by_collection.items():
            collection = self._collections[name]
            for start in range(0, len(ids), self._batch_size):
                if self._stopping.is_set():
                    self._hints.setdefault(name, set()).update(ids[start:])
                    break
                chunk = ids[start : start + self._batch_size]
                try:
                    found = await self._lookup(collection, chunk)
                    for doc_id in set(chunk) - {d["_id"] for d in found}:
                        self._settling.pop((name, doc_id), None)
                    count, error = await self._relay_documents(collection, found)
                except Exception:
                    self._hints.setdefault(name, set()).update(ids[start:])  # next pass
                    raise
                published += count
                failed = failed or error
        return published, True, failed

    async def _lookup(
        self, collection: AsyncCollection[Any], ids: list[Any]
    ) -> list[dict[str, Any]]:
        """The documents' outboxes: as handed over for fresh inserts, else read by ``_id``,
        concurrently (FerretDB 1.24 serves a lone ``{"_id": value}`` from its index but
        scans the collection for ``$in``)."""
        handed = [
            {"_id": i, OUTBOX_FIELD: entries}
            for i in ids
            if (entries := self._inserted.pop((collection.name, i), None)) is not None
        ]
        known = {d["_id"] for d in handed}
        ids = [i for i in ids if i not in known]
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def one(doc_id: Any) -> dict[str, Any] | None:
            async with gate, self._mongo_guard():
                return await collection.find_one({"_id": doc_id}, {OUTBOX_FIELD: 1})

        found = await asyncio.gather(*(one(i) for i in ids))
        return [*handed, *(doc for doc in found if doc is not None)]

    async def _relay_documents(
        self, collection: AsyncCollection[Any], docs: list[dict[str, Any]]
    ) -> tuple[int, bool]:
        now = datetime.now(UTC)
        waiting: list[tuple[Any, list[dict[str, Any]]]] = []
        for doc in docs:
            entries: list[dict[str, Any]] = doc.get(OUTBOX_FIELD) or []
            if entries:
                waiting.append((doc["_id"], entries))
            else:
                self._settling.pop((collection.name, doc["_id"]), None)
        published, prefixes = await self._publish_in_order(collection.name, waiting)
        failed, pending = False, 0
        oldest_pending: datetime | None = None
        removals: list[tuple[Any, list[dict[str, Any]]]] = []
        for doc_id, entries in waiting:
            key = (collection.name, doc_id)
            done = prefixes[doc_id]
            if done < len(entries):
                failed = True
                pending += len(entries) - done
                self._hints.setdefault(collection.name, set()).add(doc_id)
                first = _as_utc(entries[done]["occurred_at"])
                oldest_pending = first if oldest_pending is None else min(oldest_pending, first)
            if not done:
                continue
            newest = max(_as_utc(e["occurred_at"]) for e in entries)
            quiet_for = (now - newest).total_seconds()
            if quiet_for >= self._settle_s:
                removals.append((doc_id, entries[:done]))
                self._settling.pop(key, None)
            else:
                self._settling[key] = time.monotonic() + self._settle_s - quiet_for
        for doc_id, entries in removals:
            self._removals[(collection.name, doc_id)] = entries
        if removals:
            self._removals_ready.set()
        lag = (now - oldest_pending).total_seconds() if oldest_pending else 0.0
        metrics.RELAY_LAG.labels(collection.name).set(lag)
        metrics.RELAY_PENDING.labels(collection.name).set(pending)
        self._forget_old()
        return published, failed

    async def _remove(
        self, collection: AsyncCollection[Any], doc_id: Any, entries: list[dict[str, Any]]
    ) -> None:
        # $pullAll of the entries exactly as read: FerretDB 1.24 ignores $pull with a query
        # condition ({"id": {"$in": ...}}); exact-value removal works on both.
        lock = self._document_lock(collection.name, doc_id) if self._document_lock else None
        async with lock or contextlib.nullcontext(), self._mongo_guard():
            await collection.update_one({"_id": doc_id}, {"$pullAll": {OUTBOX_FIELD: entries}})
        for entry in entries:
            self._published.pop(entry["id"], None)

    def _forget_old(self) -> None:
        # Ids whose removal another replica did, or that are long gone: a republish of one
        # of these is deduplicated anyway, the memory only saves work.
        horizon = time.monotonic() - PUBLISHED_MEMORY_S
        for event_id in [i for i, at in self._published.items() if at < horizon]:
            del self._published[event_id]

    async def _publish_in_order(
        self, collection: str, documents: list[tuple[Any, list[dict[str, Any]]]]
    ) -> tuple[int, dict[Any, int]]:
        """Publish the entries of many documents, in waves: each wave sends the next
        unpublished entry of every document back to back (async acks) and waits for their
        PubAcks, so an entry goes out only after its predecessor in the same document was
        acknowledged (per-aggregate order), while documents do not wait for each other. A
        document stops at its first failure. Returns (published now, per document id the
        length of its published prefix)."""
        prefixes: dict[Any, int] = {doc_id: 0 for doc_id, _ in documents}
        open_docs = list(documents)
        count = 0
        while open_docs:
            wave: list[tuple[Any, list[dict[str, Any]], int]] = []
            for doc_id, entries in open_docs:
                position = prefixes[doc_id]
                while position < len(entries) and entries[position]["id"] in self._published:
                    position += 1  # published by this relay, not yet removed
                prefixes[doc_id] = position
                if position < len(entries):
                    wave.append((doc_id, entries, position))
            if not wave:
                break
            outgoing = [
                Outgoing(
                    subject=entries[i]["subject"],
                    payload=orjson.dumps(entries[i]["event"]),
                    event_id=entries[i]["id"],
                    event_type=entries[i]["type"],
                    parent=entries[i].get("trace"),
                )
                for _, entries, i in wave
            ]
            try:
                results: list[Any] = await self._publisher.publish_many(outgoing)
            except Exception as exc:
                results = [exc] * len(outgoing)
            stopped: set[Any] = set()
            for (doc_id, entries, position), result in zip(wave, results, strict=True):
                entry = entries[position]
                if isinstance(result, BaseException):
                    log.warning(
                        "outbox publish failed; will retry",
                        extra={
                            "collection": collection,
                            "document_id": str(doc_id),
                            "event_id": entry.get("id"),
                            "error": repr(result),
                        },
                    )
                    stopped.add(doc_id)
                    continue
                count += 1
                self._published[entry["id"]] = time.monotonic()
                prefixes[doc_id] = position + 1
                occurred = _as_utc(entry["occurred_at"])
                metrics.RELAY_DELAY.observe((datetime.now(UTC) - occurred).total_seconds())
            open_docs = [(d, e) for d, e, _ in wave if d not in stopped]
        return count, prefixes
