"""Aggregates: a guarded collection whose writes are leased, versioned and carry their events."""

from __future__ import annotations

import inspect
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any, Protocol

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from emporium_kit.documents.collection import Collection, Doc, Guard
from emporium_kit.documents.lease import Lease, Leases, Refusal
from emporium_kit.errors import Conflict, NotFound
from emporium_kit.events.envelope import Event
from emporium_kit.events.outbox import OUTBOX_FIELD, DocumentLock, with_events, with_outbox

# change(current) -> (fields to $set, or an update document; the events) | None for "nothing
# to change"; it may be a coroutine function, and it may raise a DomainError to refuse.
ChangeResult = tuple[Mapping[str, Any], Sequence[Event[Any]]] | None
Change = Callable[[Doc], ChangeResult | Awaitable[ChangeResult]]

_WITHOUT_OUTBOX = {OUTBOX_FIELD: 0}

log = logging.getLogger(__name__)

# per client: does its server answer only a lone ``{_id: ...}`` filter from the ``_id`` index?
_ID_ONLY_INDEX: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


async def answers_only_lone_id_from_index(raw: AsyncCollection[Doc]) -> bool:
    """FerretDB 1.24 (``buildInfo`` names its version) reads a filter through the ``_id``
    index only when ``_id`` is its one field; any other filter decodes every document of
    the collection, so on a catalog of thousands of products a ``{_id, version}`` write
    costs 50-150 ms where ``{_id}`` costs one. Asked once per client."""
    client = raw.database.client
    known = _ID_ONLY_INDEX.get(client)
    if known is None:
        info = await client.admin.command("buildInfo")
        known = _ID_ONLY_INDEX[client] = "ferretdbVersion" in info
    return known


class Notifier(Protocol):
    def notify(self, collection: str, ids: Iterable[Any]) -> None: ...


# what to tell that a document now holds new events: the outbox relay (or anything with
# ``notify(collection, ids)``), or such a function itself
NotifyTarget = Notifier | Callable[[str, Iterable[Any]], None]


def _notifier(target: NotifyTarget | None) -> Callable[[str, Iterable[Any]], None]:
    if target is None:
        return lambda _collection, _ids: None
    notify: Callable[[str, Iterable[Any]], None] | None = getattr(target, "notify", None)
    if callable(notify):
        return notify
    if callable(target):
        return target
    raise TypeError("notify must be a callable or have notify(collection, ids)")


class Documents(Collection):
    """The documents of one aggregate type: reads as on :class:`Collection`, and the one
    guarded write path, :meth:`update`, plus :meth:`insert`.

    ``Documents(raw, guard, *, leases, noun, not_found, busy, notify, version_field,
    attempts)``: ``leases`` keeps the per-document leases, ``noun`` names a document in error
    messages ("product"), ``not_found`` and ``busy`` build the errors for a missing document
    and for a lease that stays taken, ``notify`` is told about every write that carries
    events (the outbox relay).
    """

    def __init__(
        self,
        raw: AsyncCollection[Doc],
        guard: Guard | None = None,
        *,
        leases: Leases,
        noun: str = "document",
        not_found: Refusal | None = None,
        busy: Refusal | None = None,
        notify: NotifyTarget | None = None,
        version_field: str = "version",
        attempts: int = 5,
    ) -> None:
        super().__init__(raw, guard)
        self.leases = leases
        self.noun = noun
        self.version_field = version_field
        self._not_found = not_found or (lambda: NotFound("NOT_FOUND", f"no such {noun}"))
        self._busy = busy
        self._notify = _notifier(notify)
        self._takes_inserted = "inserted" in inspect.signature(self._notify).parameters
        self._attempts = attempts

    def lock(self, doc_id: Any) -> AbstractAsyncContextManager[Lease]:
        """The document's lease (what :meth:`update` holds), for other writers of it such
        as the outbox relay's removals (see :func:`document_lock`)."""
        return self.leases.hold(f"{self.name}:{doc_id}", busy=self._busy)

    async def insert(self, doc: Mapping[str, Any], events: Iterable[Event[Any]] = ()) -> Doc:
        """Insert ``doc`` (at version 1 unless it says otherwise) with ``events`` pending in
        its outbox; returns it without the outbox. ``DuplicateKeyError`` when a unique value
        is taken."""
        pending = list(events)
        stored = {self.version_field: 1, **doc}
        written = with_outbox(stored, pending) if pending else stored
        await self.insert_one(written)
        if pending:
            self._notify_inserted(stored["_id"], written[OUTBOX_FIELD])
        return stored

    def _notify_inserted(self, doc_id: Any, entries: Sequence[Mapping[str, Any]]) -> None:
        # a relay takes a fresh document's entries as they are, without reading it back
        if self._takes_inserted:
            self._notify(self.name, [doc_id], inserted={doc_id: entries})  # type: ignore[call-arg]
        else:
            self._notify(self.name, [doc_id])

    async def update(
        self,
        doc_id: Any,
        change: Change,
        *,
        expected_version: int | None = None,
        expected_version_at: Sequence[str | int] = ("expectedVersion",),
    ) -> Doc:
        """Change one document under its lease; returns it as written (without the outbox).

        Reads the document, calls ``change(current)`` and writes what it returns, together
        with its events, in ONE single-document write filtered on ``{_id, version}`` that
        increments ``version``. ``change`` returning ``None`` writes nothing and returns the
        current document. A version mismatch (only a writer outside the lease can cause
        one) re-reads and calls ``change`` again, up to ``attempts`` times. With
        ``expected_version`` a document at another version is refused with
        ``VERSION_CONFLICT`` naming ``expected_version_at``.

        The lease makes this exact on FerretDB, whose updates are unguarded
        read-modify-writes; the version filter makes the same code exact on MongoDB. On
        FerretDB the write filters on ``_id`` alone (the one filter it serves from an index,
        see :func:`answers_only_lone_id_from_index`): a version filter protects nothing there
        that the lease does not, and a write that finds another version than it read (only
        a writer outside the lease can cause one) is logged.
        """
        async with self.lock(doc_id) as lease:
            with_pending, doc = await self._write(
                lease, doc_id, change, expected_version, expected_version_at
            )
        if with_pending:
            self._notify(self.name, [doc_id])
        return doc

    async def _write(
        self,
        lease: Lease,
        doc_id: Any,
        change: Change,
        expected_version: int | None,
        expected_version_at: Sequence[str | int],
    ) -> tuple[bool, Doc]:
        for _ in range(self._attempts):
            current = await self.get(doc_id, _WITHOUT_OUTBOX)
            if current is None:
                raise self._not_found()
            version = current.get(self.version_field)
            if expected_version is not None and version != expected_version:
                raise Conflict(
                    "VERSION_CONFLICT",
                    f"the {self.noun} is at version {version}, not {expected_version}",
                    list(expected_version_at),
                )
            outcome = change(current)
            if inspect.isawaitable(outcome):
                outcome = await outcome
            if outcome is None:
                return False, current
            spec, events = outcome
            update = with_events(self._versioned(spec), events)
            async with self.guard():
                id_only = await answers_only_lone_id_from_index(self.raw)
                # a missing version reads as None, and {version: None} matches a missing field
                flt = {"_id": doc_id} if id_only else {"_id": doc_id, self.version_field: version}
                lease.check()
                written = await self.raw.find_one_and_update(
                    flt, update, return_document=ReturnDocument.AFTER
                )
            if written is not None:
                if id_only and written.get(self.version_field) != (version or 0) + 1:
                    log.error(
                        "%s written outside its lease",
                        self.noun,
                        extra={"collection": self.name, "document_id": str(doc_id)},
                    )
                written.pop(OUTBOX_FIELD, None)
                return bool(events), written
        raise Conflict(
            "CONCURRENT_MODIFICATION", f"the {self.noun} kept changing concurrently; retry"
        )

    def _versioned(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        operators = {key.startswith("$") for key in spec}
        if operators == {True, False}:
            raise ValueError("a change is either fields to set or an update document")
        if operators == {True}:
            update = {op: dict(fields) for op, fields in spec.items()}
        else:
            update = {"$set": dict(spec)} if spec else {}
        for fields in update.values():
            if self.version_field in fields:
                raise ValueError(f"update() moves {self.version_field!r}; a change must not")
        update.setdefault("$inc", {})[self.version_field] = 1
        return update


def document_lock(*documents: Documents) -> DocumentLock:
    """The lock for ``OutboxRelay(document_lock=...)``: its removal of published entries
    from a document holds the same lease as :meth:`Documents.update`, so on FerretDB it can
    never interleave with (and silently undo) a write. Collections not given here (written
    once, never updated) get no lock."""
    by_name = {docs.name: docs for docs in documents}

    def lock(collection: str, doc_id: Any) -> AbstractAsyncContextManager[Any]:
        docs = by_name.get(collection)
        return docs.lock(doc_id) if docs is not None else nullcontext()

    return lock
