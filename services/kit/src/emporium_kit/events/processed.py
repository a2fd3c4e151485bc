"""Which event ids a consumer has handled: the idempotency store behind every consumer.

Two kinds of record per (consumer, event id), each keyed by a string ``_id``: a *claim*
(``status: processing`` with an owner token and a lease) while a delivery runs the handler,
and a *done* mark afterwards. A delivery first checks the done mark, then claims, runs the
handler, inserts the done mark and deletes its claim:

* a duplicate or redelivery of a done id is acked without running the handler;
* a duplicate arriving while another replica holds a live lease is retried later, so two
  replicas never run the same event concurrently;
* a handler that raised releases its claim, so the retry runs it again;
* a process that died mid-handler leaves a claim whose lease runs out; the redelivery takes
  it over and runs the handler again. FerretDB 1.24 applies a compare-and-set update as an
  unguarded read-modify-write (every concurrent taker would see it succeed), so the takeover
  is decided by an insert instead: a *takeover* record keyed by the claim and the owner it
  replaces. Of any number of replicas taking over one expired claim, exactly one inserts it
  and only that one rewrites the claim's owner; the others see the claim busy. Takeover
  records are pruned with the done marks.

Keying everything by ``_id`` is deliberate: FerretDB 1.24 (SQLite) answers only a lone
``{"_id": value}`` filter from an index and decodes the whole collection for anything else,
so the per-event path (check, claim, mark, delete) uses ``_id`` lookups and primary-key
inserts only; compound filters remain on the rare paths (the takeover's owner change,
release, lease extension).

So the handler runs at least once per event id and its completion is recorded once. Without
multi-document transactions the handler's own write and the done mark cannot be atomic:
a crash after the effect and before the mark runs the handler again, so effects must be
state-guarded (version checks, conditional updates) — see docs/events.md.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError
from ulid import ULID

from emporium_kit.events._guard import Guard, or_unguarded

PRUNE_INDEX = "status_done_at"
PROCESSING = "processing"
DONE = "done"
TAKEN_OVER = "taken_over"
DUPLICATE_KEY = 11000


class ClaimOutcome(enum.Enum):
    CLAIMED = "claimed"
    DONE = "done"
    BUSY = "busy"


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    token: str | None = None
    retry_after_s: float = 0.0


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _claim_id(consumer: str, event_id: str) -> str:
    return f"claim:{consumer}:{event_id}"


def _done_id(consumer: str, event_id: str) -> str:
    return f"done:{consumer}:{event_id}"


def _takeover_id(consumer: str, event_id: str, owner: str) -> str:
    return f"takeover:{consumer}:{event_id}:{owner}"


class ProcessedEvents:
    """The claim/done records of one service's consumers in one Mongo collection."""

    def __init__(self, collection: AsyncCollection[Any], *, guard: Guard | None = None) -> None:
        self.collection = collection
        self._guard = or_unguarded(guard)

    async def ensure_indexes(self) -> None:
        async with self._guard():
            await self.collection.create_index([("status", 1), ("done_at", 1)], name=PRUNE_INDEX)

    async def _get(self, doc_id: str) -> dict[str, Any] | None:
        async with self._guard():
            return await self.collection.find_one({"_id": doc_id})

    async def claim(self, consumer: str, event_id: str, lease_s: float) -> Claim:
        claim_id, done_id = _claim_id(consumer, event_id), _done_id(consumer, event_id)
        if await self._get(done_id) is not None:
            return Claim(ClaimOutcome.DONE)
        for _ in range(3):  # a claim released between our insert and read: try again
            now = datetime.now(UTC)
            token = str(ULID())
            try:
                async with self._guard():
                    await self.collection.insert_one(
                        {
                            "_id": claim_id,
                            "consumer": consumer,
                            "event_id": event_id,
                            "status": PROCESSING,
                            "owner": token,
                            "claimed_at": now,
                            "lease_until": now + timedelta(seconds=lease_s),
                        }
                    )
            except DuplicateKeyError:
                pass
            else:
                # another replica may have finished (and dropped its claim) since our check
                if await self._get(done_id) is not None:
                    await self.release(consumer, event_id, token)
                    return Claim(ClaimOutcome.DONE)
                return Claim(ClaimOutcome.CLAIMED, token)
            doc = await self._get(claim_id)
            if doc is None:
                if await self._get(done_id) is not None:
                    return Claim(ClaimOutcome.DONE)
                continue
            lease_until = _utc(doc["lease_until"])
            if lease_until > now:
                return Claim(ClaimOutcome.BUSY, retry_after_s=(lease_until - now).total_seconds())
            if not await self._take_over(consumer, event_id, doc["owner"], now):
                continue  # another replica took it: read its fresh lease
            async with self._guard():
                taken = await self.collection.update_one(
                    {"_id": claim_id, "status": PROCESSING, "owner": doc["owner"]},
                    {
                        "$set": {
                            "owner": token,
                            "claimed_at": now,
                            "lease_until": now + timedelta(seconds=lease_s),
                        }
                    },
                )
            if taken.modified_count == 1:
                return Claim(ClaimOutcome.CLAIMED, token)
            # the stale owner finished or released in between: read again
        return Claim(ClaimOutcome.BUSY, retry_after_s=1.0)

    async def _take_over(self, consumer: str, event_id: str, owner: str, now: datetime) -> bool:
        """Win the right to replace ``owner``'s expired claim: an ``_id`` insert, so exactly
        one of any number of takers wins it."""
        try:
            async with self._guard():
                await self.collection.insert_one(
                    {
                        "_id": _takeover_id(consumer, event_id, owner),
                        "consumer": consumer,
                        "event_id": event_id,
                        "status": TAKEN_OVER,
                        "done_at": now,  # pruned with the done marks
                    }
                )
        except DuplicateKeyError:
            return False
        return True

    async def extend(self, consumer: str, event_id: str, token: str, lease_s: float) -> bool:
        until = datetime.now(UTC) + timedelta(seconds=lease_s)
        async with self._guard():
            result = await self.collection.update_one(
                {"_id": _claim_id(consumer, event_id), "owner": token, "status": PROCESSING},
                {"$set": {"lease_until": until}},
            )
        return result.modified_count == 1

    async def complete(self, consumer: str, event_id: str, token: str) -> bool:
        """Mark done; False when our lease had been taken over (the handler ran twice)."""
        claim_id = _claim_id(consumer, event_id)
        claim = await self._get(claim_id)
        if claim is None or claim.get("owner") != token:
            return False
        try:
            async with self._guard():
                await self.collection.insert_one(
                    {
                        "_id": _done_id(consumer, event_id),
                        "consumer": consumer,
                        "event_id": event_id,
                        "status": DONE,
                        "done_at": datetime.now(UTC),
                    }
                )
        except DuplicateKeyError:
            pass  # already marked: the mark is what matters
        async with self._guard():
            await self.collection.delete_one({"_id": claim_id})
        return True

    async def release(self, consumer: str, event_id: str, token: str) -> None:
        async with self._guard():
            await self.collection.delete_one(
                {"_id": _claim_id(consumer, event_id), "owner": token, "status": PROCESSING}
            )

    # -- batches: one insert for many records, concurrent ``_id`` lookups for the rest -----

    async def claim_many(
        self, consumer: str, event_ids: Sequence[str], lease_s: float
    ) -> dict[str, Claim]:
        """:meth:`claim` for a batch: the done checks run concurrently (``_id`` lookups),
        the fresh claims are one unordered ``insert_many``; an id whose claim already exists
        (another replica, an expired lease) goes through :meth:`claim` on its own."""
        ids = list(dict.fromkeys(event_ids))
        done = await self._done_among(consumer, ids)
        claims: dict[str, Claim] = {i: Claim(ClaimOutcome.DONE) for i in done}
        fresh = [i for i in ids if i not in done]
        if not fresh:
            return claims
        now = datetime.now(UTC)
        tokens = {i: str(ULID()) for i in fresh}
        records = [
            {
                "_id": _claim_id(consumer, i),
                "consumer": consumer,
                "event_id": i,
                "status": PROCESSING,
                "owner": tokens[i],
                "claimed_at": now,
                "lease_until": now + timedelta(seconds=lease_s),
            }
            for i in fresh
        ]
        refused: set[str] = set()
        try:
            async with self._guard():
                await self.collection.insert_many(records, ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", ()):
                if error.get("code") != DUPLICATE_KEY:
                    raise
                refused.add(fresh[error["index"]])
        inserted = [i for i in fresh if i not in refused]
        # another replica may have finished (and dropped its claim) since our check
        finished = await self._done_among(consumer, inserted)
        for event_id in inserted:
            if event_id in finished:
                await self.release(consumer, event_id, tokens[event_id])
                claims[event_id] = Claim(ClaimOutcome.DONE)
            else:
                claims[event_id] = Claim(ClaimOutcome.CLAIMED, tokens[event_id])
        for event_id in sorted(refused):  # rare: a claim held elsewhere or expired
            claims[event_id] = await self.claim(consumer, event_id, lease_s)
        return claims

    async def complete_many(self, consumer: str, tokens: Mapping[str, str]) -> set[str]:
        """:meth:`complete` for a batch (event id -> claim token): concurrent claim reads,
        one ``insert_many`` of the done marks, then the claims' deletes. Returns the ids
        whose claim had been taken over (not marked)."""
        ids = list(tokens)
        current = await asyncio.gather(*(self._get(_claim_id(consumer, i)) for i in ids))
        owned = [
            i
            for i, claim in zip(ids, current, strict=True)
            if claim is not None and claim.get("owner") == tokens[i]
        ]
        if owned:
            now = datetime.now(UTC)
            marks = [
                {
                    "_id": _done_id(consumer, i),
                    "consumer": consumer,
                    "event_id": i,
                    "status": DONE,
                    "done_at": now,
                }
                for i in owned
            ]
            try:
                async with self._guard():
                    await self.collection.insert_many(marks, ordered=False)
            except BulkWriteError as exc:
                # already marked: the mark is what matters
                if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", ())):
                    raise
            # one at a time: FerretDB's SQLite backend refuses concurrent writes (SQLITE_BUSY),
            # and `$in` would scan the collection
            for event_id in owned:
                await self._delete(_claim_id(consumer, event_id))
        return set(ids) - set(owned)

    async def _done_among(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        # concurrent `_id` lookups: FerretDB 1.24 scans the collection for `$in`
        found = await asyncio.gather(*(self._get(_done_id(consumer, i)) for i in event_ids))
        return {i for i, doc in zip(event_ids, found, strict=True) if doc is not None}

    async def _delete(self, doc_id: str) -> None:
        async with self._guard():
            await self.collection.delete_one({"_id": doc_id})

    async def is_done(self, consumer: str, event_id: str) -> bool:
        return await self._get(_done_id(consumer, event_id)) is not None

    async def prune(self, *, older_than: timedelta) -> int:
        """Delete done marks and takeover records older than the streams keep messages (no
        TTL indexes on FerretDB); run it from a periodic job. Returns how many were deleted."""
        cutoff = datetime.now(UTC) - older_than
        async with self._guard():
            result = await self.collection.delete_many(
                {"status": {"$in": [DONE, TAKEN_OVER]}, "done_at": {"$lt": cutoff}}
            )
        return result.deleted_count
