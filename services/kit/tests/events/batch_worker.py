"""A batch consumer in its own process, for the crash-mid-batch test.

``python batch_worker.py '<json>'`` runs a batch ``EventConsumer`` (with the processed-event
store) on the durable ``consumer`` of ``domain``. Its handler applies each event of a batch
with a version-guarded write to ``effects`` and records every run in ``runs``; after
``crash_after`` applied events it prints ``crashing`` and dies (``os._exit``) in the middle
of the batch, before any done mark or ack: what a killed pod leaves behind.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

import nats
import orjson
from emporium_kit.events import BatchResult, Event, EventConsumer, EventSpec, ProcessedEvents
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase


class ItemChanged(BaseModel):
    sku: str
    qty: int


async def apply(db: AsyncDatabase[dict[str, Any]], event: Event[Any]) -> None:
    """The effect, state-guarded by the event's version (``qty``): a second run is a no-op."""
    await db["runs"].insert_one({"event_id": event.id, "pid": os.getpid()})
    await db["effects"].update_one(
        {"_id": event.data.sku, "version": {"$lt": event.data.qty}},
        {"$set": {"version": event.data.qty}, "$inc": {"applied": 1}},
    )


async def main(spec: dict[str, Any]) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(spec["mongo_url"], tz_aware=True)
    db = client[spec["database"]]
    nc = await nats.connect(spec["nats_url"])
    applied = 0

    async def handle(events: Sequence[Event[Any]]) -> BatchResult | None:
        nonlocal applied
        for event in events:
            await apply(db, event)
            applied += 1
            if applied == spec["crash_after"]:
                print("crashing", flush=True)
                os._exit(1)
        return None

    consumer = EventConsumer(
        spec["consumer"],
        nc.jetstream(),
        ProcessedEvents(db["processed_events"]),
        ack_wait_s=spec["ack_wait_s"],
        batch_size=spec["batch_size"],
        fetch_timeout_s=0.2,
    )
    consumer.subscribe_batch([EventSpec(spec["domain"], "ItemChanged", ItemChanged)], handle)
    await consumer.start()
    print("started", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(orjson.loads(sys.argv[1])))
