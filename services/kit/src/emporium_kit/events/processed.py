"""Which event ids a consumer has handled: the idempotency store behind every consumer.

One document per (consumer, event id) under a unique index. A delivery first *claims* the
event id (``status: processing`` with a lease), runs the handler, then marks it ``done``:

* a duplicate or redelivery of a ``done`` id is acked without running the handler;
* a duplicate arriving while another replica holds a live lease is retried later, so two
  replicas never run the same event concurrently;
* a handler that raised releases its claim, so the retry runs it again;
* a process that died mid-handler leaves a claim whose lease runs out; the redelivery takes
  it over (compare-and-set on the old lease) and runs the handler again.

So the handler runs at least once per event id and its completion is recorded once. Without
multi-document transactions the handler's own write and the ``done`` mark cannot be atomic:
a crash after the effect and before the mark runs the handler again, so effects must be
state-guarded (version checks, conditional updates) — see docs/events.md.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError
from ulid import ULID

from emporium_kit.events._guard import Guard, or_unguarded

PROCESSED_INDEX = "consumer_event_unique"
PROCESSING = "processing"
DONE = "done"


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


class ProcessedEvents:
    """The claim/done records of one service's consumers in one Mongo collection."""

    def __init__(self, collection: AsyncCollection[Any], *, guard: Guard | None = None) -> None:
        self.collection = collection
        self._guard = or_unguarded(guard)

    async def ensure_indexes(self) -> None:
        async with self._guard():
            await self.collection.create_index(
                [("consumer", 1), ("event_id", 1)], unique=True, name=PROCESSED_INDEX
            )

    async def claim(self, consumer: str, event_id: str, lease_s: float) -> Claim:
        key = {"consumer": consumer, "event_id": event_id}
        for _ in range(3):  # a claim released between our insert and read: try again
            now = datetime.now(UTC)
            token = str(ULID())
            try:
                async with self._guard():
                    await self.collection.insert_one(
                        {
                            **key,
                            "status": PROCESSING,
                            "owner": token,
                            "claimed_at": now,
                            "lease_until": now + timedelta(seconds=lease_s),
                        }
                    )
                return Claim(ClaimOutcome.CLAIMED, token)
            except DuplicateKeyError:
                pass
            async with self._guard():
                doc = await self.collection.find_one(key)
            if doc is None:
                continue
            if doc["status"] == DONE:
                return Claim(ClaimOutcome.DONE)
            lease_until = _utc(doc["lease_until"])
            if lease_until > now:
                return Claim(ClaimOutcome.BUSY, retry_after_s=(lease_until - now).total_seconds())
            async with self._guard():
                taken = await self.collection.update_one(
                    {"_id": doc["_id"], "status": PROCESSING, "owner": doc["owner"]},
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
        return Claim(ClaimOutcome.BUSY, retry_after_s=1.0)

    async def extend(self, consumer: str, event_id: str, token: str, lease_s: float) -> bool:
        until = datetime.now(UTC) + timedelta(seconds=lease_s)
        async with self._guard():
            result = await self.collection.update_one(
                {"consumer": consumer, "event_id": event_id, "owner": token, "status": PROCESSING},
                {"$set": {"lease_until": until}},
            )
        return result.modified_count == 1

    async def complete(self, consumer: str, event_id: str, token: str) -> bool:
        """Mark done; False when our lease had been taken over (the handler ran twice)."""
        async with self._guard():
            result = await self.collection.update_one(
                {"consumer": consumer, "event_id": event_id, "owner": token},
                {"$set": {"status": DONE, "done_at": datetime.now(UTC)}},
            )
        return result.modified_count == 1

    async def release(self, consumer: str, event_id: str, token: str) -> None:
        async with self._guard():
            await self.collection.delete_one(
                {"consumer": consumer, "event_id": event_id, "owner": token, "status": PROCESSING}
            )

    async def is_done(self, consumer: str, event_id: str) -> bool:
        async with self._guard():
            doc = await self.collection.find_one(
                {"consumer": consumer, "event_id": event_id, "status": DONE}
            )
        return doc is not None

    async def prune(self, *, older_than: timedelta) -> int:
        """Delete ``done`` records older than the streams keep messages (no TTL indexes on
        FerretDB); run it from a periodic job. Returns how many were deleted."""
        cutoff = datetime.now(UTC) - older_than
        async with self._guard():
            result = await self.collection.delete_many({"status": DONE, "done_at": {"$lt": cutoff}})
        return result.deleted_count
