"""Batch consumers: whole batches per handler call, per-event outcomes, the same guarantees.

Real NATS JetStream and FerretDB: batches really form, a poison event is dead-lettered
without holding up the rest of its batch, a failed batch is redelivered and applied once,
duplicates are absorbed by the batched claims, and a process killed in the middle of a batch
loses nothing and doubles nothing.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from emporium_kit.events import (
    BatchResult,
    Event,
    EventConsumer,
    EventSpec,
    ProcessedEvents,
    list_dead_letters,
)
from nats.js import JetStreamContext
from pymongo.asynchronous.database import AsyncDatabase

from .batch_worker import apply

pytestmark = pytest.mark.integration

WORKER = Path(__file__).with_name("batch_worker.py")
Db = AsyncDatabase[dict[str, Any]]


def item_event(spec: EventSpec[Any], sku: str, qty: int = 1) -> Event[Any]:
    return spec.new(spec.payload(sku=sku, qty=qty), aggregate_id=sku, source="tests")


async def publish_all(js: JetStreamContext, events: Sequence[Event[Any]]) -> None:
    acks = [
        await js.publish_async(e.subject, e.to_json(), headers={"Nats-Msg-Id": e.id})
        for e in events
    ]
    await asyncio.gather(*acks)


async def test_batches_form_and_every_event_is_applied_once(
    *,
    js: JetStreamContext,
    mongo: Db,
    spec: EventSpec[Any],
    consumer_name: str,
    make_consumer: Callable[..., EventConsumer],
    settled: Callable[[str], Any],
    wait: Any,
) -> None:
    events = [item_event(spec, f"sku-{i}") for i in range(120)]
    await publish_all(js, events)
    # Copies of ten events as separate stream messages (a republish after the duplicate
    # window): the batched claims must absorb them, in the same batch or a later one.
    for event in events[:10]:
        await js.publish(event.subject, event.to_json(), headers={"Nats-Msg-Id": f"{event.id}-2"})
    sizes: list[int] = []
    seen: list[str] = []

    async def handle(batch: Sequence[Event[Any]]) -> None:
        sizes.append(len(batch))
        seen.extend(e.id for e in batch)

    consumer = make_consumer(consumer_name, batch_size=50, max_wait_s=0.2)
    consumer.subscribe_batch([spec], handle)
    await consumer.start()
    await wait(lambda: settled(consumer_name), timeout_s=60, what="all 130 messages settled")

    assert Counter(seen) == Counter(e.id for e in events), "each event handled exactly once"
    assert max(sizes) == 50, sizes
    assert len(sizes) <= 5, sizes
    processed = ProcessedEvents(mongo["processed_events"])
    assert all([await processed.is_done(consumer_name, e.id) for e in events[::17]])
    assert await mongo["processed_events"].count_documents({"status": "processing"}) == 0


@pytest.mark.usefixtures("clean_dlq")
async def test_a_poison_event_is_dead_lettered_without_holding_up_its_batch(
    *,
    js: JetStreamContext,
    spec: EventSpec[Any],
    consumer_name: str,
    make_consumer: Callable[..., EventConsumer],
    settled: Callable[[str], Any],
    wait: Any,
) -> None:
    events = [item_event(spec, f"sku-{i}", qty=1) for i in range(30)]
    poison = item_event(spec, "poison", qty=-1)
    events.insert(12, poison)
    await publish_all(js, events)
    runs: Counter[str] = Counter()
    first_batch: list[str] = []

    async def handle(batch: Sequence[Event[Any]]) -> BatchResult:
        if not first_batch:
            first_batch.extend(e.id for e in batch)
        runs.update(e.id for e in batch)
        bad = {e.id: ValueError(f"negative qty for {e.data.sku}") for e in batch if e.data.qty < 0}
        return BatchResult(failed=bad)

    consumer = make_consumer(consumer_name, batch_size=100, max_wait_s=0.3, max_deliver=3)
    consumer.subscribe_batch([spec], handle)
    await consumer.start()
    (letter,) = await wait(
        lambda: list_dead_letters(js, consumer=consumer_name), what="the poison event's letter"
    )
    await wait(lambda: settled(consumer_name), what="every message answered")

    assert set(first_batch) == {e.id for e in events}, "one batch held them all"
    assert runs[poison.id] == 3, "the poison event was tried max_deliver times"
    assert all(runs[e.id] == 1 for e in events if e is not poison), "the rest ran once"
    assert letter.event_id == poison.id
    assert letter.deliveries == 3
    assert letter.error == "ValueError: negative qty for poison"


async def test_a_failed_batch_is_redelivered_and_applied_once(
    *,
    js: JetStreamContext,
    mongo: Db,
    spec: EventSpec[Any],
    consumer_name: str,
    make_consumer: Callable[..., EventConsumer],
    settled: Callable[[str], Any],
    wait: Any,
) -> None:
    """Without a processed-event store (idempotency by version in the target), a batch that
    fails half-way is redelivered whole; the guarded effects make the second run exact."""
    events = [item_event(spec, f"sku-{i}", qty=1) for i in range(40)]
    await mongo["effects"].insert_many(
        [{"_id": e.data.sku, "version": 0, "applied": 0} for e in events]
    )
    await publish_all(js, events)
    calls = 0

    async def handle(batch: Sequence[Event[Any]]) -> None:
        nonlocal calls
        calls += 1
        for position, event in enumerate(batch):
            if calls == 1 and position == len(batch) // 2:
                raise ConnectionError("the target went away half-way")
            await apply(mongo, event)

    consumer = EventConsumer(
        consumer_name,
        js,
        None,
        batch_size=100,
        max_wait_s=0.3,
        backoff_s=(0.05,),
        fetch_timeout_s=0.2,
    )
    consumer.subscribe_batch([spec], handle)
    await consumer.start()
    try:
        await wait(lambda: settled(consumer_name), what="the batch applied after redelivery")
    finally:
        await consumer.stop()

    assert calls >= 2
    runs = Counter(r["event_id"] for r in await mongo["runs"].find({}).to_list())
    assert max(runs.values()) == 2, "the first half ran twice"
    effects = await mongo["effects"].find({}).to_list()
    assert {(e["version"], e["applied"]) for e in effects} == {(1, 1)}, "applied exactly once"


async def test_a_process_killed_mid_batch_loses_nothing_and_doubles_nothing(
    *,
    js: JetStreamContext,
    mongo: Db,
    domain: str,
    spec: EventSpec[Any],
    consumer_name: str,
    make_consumer: Callable[..., EventConsumer],
    settled: Callable[[str], Any],
    wait: Any,
    platform: Any,
) -> None:
    events = [item_event(spec, f"sku-{i}", qty=1) for i in range(60)]
    await mongo["effects"].insert_many(
        [{"_id": e.data.sku, "version": 0, "applied": 0} for e in events]
    )
    await publish_all(js, events)
    ack_wait_s = 3.0
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        orjson.dumps(
            {
                "mongo_url": platform.mongo_url,
                "nats_url": platform.nats_url,
                "database": mongo.name,
                "domain": domain,
                "consumer": consumer_name,
                "ack_wait_s": ack_wait_s,
                "batch_size": 60,
                "crash_after": 25,
            }
        ).decode(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(WORKER.parent)},
    )
    async with asyncio.timeout(60):
        out, err = await worker.communicate()
    assert worker.returncode == 1, err.decode()
    assert b"crashing" in out
    assert await mongo["runs"].count_documents({}) == 25
    # its claims are still there, leased: nobody may run those events until they lapse
    assert await mongo["processed_events"].count_documents({"status": "processing"}) == 60

    survivor_runs: list[str] = []

    async def handle(batch: Sequence[Event[Any]]) -> None:
        for event in batch:
            survivor_runs.append(event.id)
            await apply(mongo, event)

    survivor = make_consumer(consumer_name, ack_wait_s=ack_wait_s, batch_size=60)
    survivor.subscribe_batch([spec], handle)
    await survivor.start()
    await wait(lambda: settled(consumer_name), timeout_s=90, what="the survivor took over")

    assert sorted(survivor_runs) == sorted(e.id for e in events), "nothing lost"
    effects = await mongo["effects"].find({}).to_list()
    assert {(e["version"], e["applied"]) for e in effects} == {(1, 1)}, "nothing doubled"
    processed = ProcessedEvents(mongo["processed_events"])
    assert all([await processed.is_done(consumer_name, e.id) for e in events])
