"""The single-document outbox and its relay against real FerretDB + JetStream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from emporium_kit.events import (
    Event,
    EventConsumer,
    EventPublisher,
    EventSpec,
    OutboxRelay,
    ensure_outbox_index,
    stream_name,
    with_events,
    with_outbox,
)
from nats.js import JetStreamContext
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.integration


def item_event(spec: EventSpec[Any], sku: str, qty: int) -> Event[Any]:
    return spec.new(spec.payload(sku=sku, qty=qty), aggregate_id=sku, source="tests")


class Recorder:
    """A handler that records what it saw, in order."""

    def __init__(self) -> None:
        self.seen: list[Event[Any]] = []

    async def __call__(self, event: Event[Any]) -> None:
        self.seen.append(event)

    def ids(self) -> list[str]:
        return [e.id for e in self.seen]


async def _no_pending(items: Any) -> bool:
    return await items.count_documents({"outbox.id": {"$exists": True}}) == 0


async def drain_with_sentinel(
    publish: Callable[..., Any], spec: EventSpec[Any], recorder: Recorder, wait: Any
) -> None:
    """Publish a last event and wait for it: a consumer handles a stream in order, so any
    duplicate published before it has been delivered (or dropped) by then."""
    sentinel = item_event(spec, "sentinel", 0)
    await publish(sentinel)
    await wait(lambda: sentinel.id in recorder.ids(), what="the sentinel event")
    recorder.seen.remove(next(e for e in recorder.seen if e.id == sentinel.id))


async def test_relay_stopped_after_writing_publishes_nothing_then_delivers_once_in_order(
    *,
    js: JetStreamContext,
    mongo: AsyncDatabase[dict[str, Any]],
    domain: str,
    spec: EventSpec[Any],
    consumer_name: str,
    make_consumer: Callable[..., EventConsumer],
    publish: Callable[..., Any],
    wait: Any,
) -> None:
    items = mongo["items"]
    relay = OutboxRelay([items], js, poll_interval_s=0.05)
    await relay.start()
    await relay.stop()

    created = item_event(spec, "sku-1", 1)
    await items.insert_one(with_outbox({"_id": "sku-1", "qty": 1}, [created]))
    changed = item_event(spec, "sku-1", 2)
    await items.update_one({"_id": "sku-1"}, with_events({"$set": {"qty": 2}}, [changed]))

    assert (await js.stream_info(stream_name(domain))).state.messages == 0
    doc = await items.find_one({"_id": "sku-1"})
    assert doc is not None
    assert doc["qty"] == 2
    assert [e["id"] for e in doc["outbox"]] == [created.id, changed.id]

    recorder = Recorder()
    consumer = make_consumer(consumer_name)
    consumer.subscribe(spec, recorder)
    await consumer.start()
    relay = OutboxRelay([items], js, poll_interval_s=0.05, settle_s=0.2)
    await relay.start()
    try:
        await wait(lambda: len(recorder.seen) >= 2, what="both outbox events")
        await drain_with_sentinel(publish, spec, recorder, wait)
        await wait(lambda: _no_pending(items), what="the published entries removed")
    finally:
        await relay.stop()

    assert recorder.ids() == [created.id, changed.id]
    assert [e.data.qty for e in recorder.seen] == [1, 2]
    doc = await items.find_one({"_id": "sku-1"})
    assert doc is not None
    assert doc["outbox"] == []
    assert doc["qty"] == 2
    indexes = await items.index_information()
    assert any(spec_["key"] == [("outbox.id", 1)] for spec_ in indexes.values())


async def test_crash_after_publish_before_marking_is_absorbed_by_dedupe(
    *,
    js: JetStreamContext,
    mongo: AsyncDatabase[dict[str, Any]],
    domain: str,
    spec: EventSpec[Any],
    consumer_name: str,
    make_consumer: Callable[..., EventConsumer],
    publish: Callable[..., Any],
    metric: Callable[..., float],
    wait: Any,
) -> None:
    items = mongo["items"]
    first, second = item_event(spec, "sku-2", 1), item_event(spec, "sku-2", 2)
    await items.insert_one(with_outbox({"_id": "sku-2", "qty": 2}, [first, second]))
    # A relay that published both events and died before removing them from the outbox.
    await EventPublisher(js).publish(first)
    await EventPublisher(js).publish(second)
    dupes = metric("emporium_events_publish_duplicates_total", event_type="ItemChanged")

    recorder = Recorder()
    consumer = make_consumer(consumer_name)
    consumer.subscribe(spec, recorder)
    await consumer.start()
    relay = OutboxRelay([items], js, settle_s=0)
    assert await relay.run_once() == 2
    await drain_with_sentinel(publish, spec, recorder, wait)

    assert metric("emporium_events_publish_duplicates_total", event_type="ItemChanged") == (
        dupes + 2
    )
    assert (await js.stream_info(stream_name(domain))).state.messages == 3  # 2 + sentinel
    assert recorder.ids() == [first.id, second.id]
    doc = await items.find_one({"_id": "sku-2"})
    assert doc is not None
    assert doc["outbox"] == []
    assert await relay.run_once() == 0


async def test_concurrent_relays_lose_nothing_and_deliver_each_event_once(
    *,
    js: JetStreamContext,
    mongo: AsyncDatabase[dict[str, Any]],
    domain: str,
    spec: EventSpec[Any],
    consumer_name: str,
    make_consumer: Callable[..., EventConsumer],
    publish: Callable[..., Any],
    wait: Any,
) -> None:
    items = mongo["items"]
    await ensure_outbox_index(items)
    recorder = Recorder()
    consumer = make_consumer(consumer_name)
    consumer.subscribe(spec, recorder)
    await consumer.start()
    relays = [OutboxRelay([items], js, poll_interval_s=0.05, settle_s=0.5) for _ in range(2)]
    for relay in relays:
        await relay.start()
    written: list[str] = []
    try:
        for n in range(15):
            sku = f"sku-{n}"
            events = [item_event(spec, sku, 1), item_event(spec, sku, 2)]
            await items.insert_one(with_outbox({"_id": sku, "qty": 0}, events[:1]))
            await items.update_one({"_id": sku}, with_events({"$set": {"qty": 2}}, events[1:]))
            written += [e.id for e in events]
            for relay in relays:
                relay.notify()
        await wait(lambda: len(recorder.seen) >= len(written), what="every event")
        await wait(
            lambda: _no_pending(items), what="every outbox emptied once the documents settled"
        )
        await drain_with_sentinel(publish, spec, recorder, wait)
    finally:
        await asyncio.gather(*(relay.stop() for relay in relays))

    assert sorted(recorder.ids()) == sorted(written)
    assert len(recorder.ids()) == len(written)  # no duplicate reached the handler
    by_sku: dict[str, list[int]] = {}
    for event in recorder.seen:
        by_sku.setdefault(event.aggregate_id, []).append(event.data.qty)
    assert all(qtys == [1, 2] for qtys in by_sku.values())  # per-aggregate order kept
    assert (await js.stream_info(stream_name(domain))).state.messages == len(written) + 1


async def test_notify_publishes_without_waiting_for_the_poll(
    *,
    js: JetStreamContext,
    mongo: AsyncDatabase[dict[str, Any]],
    domain: str,
    spec: EventSpec[Any],
    wait: Any,
) -> None:
    items = mongo["items"]
    # Built like in create_app: before the connection exists, so js is resolved lazily.
    relay = OutboxRelay([items], lambda: js, poll_interval_s=60)
    await relay.start()
    try:
        await wait(lambda: relay.passes >= 1, what="the first pass")  # now it sleeps 60 s
        await items.insert_one(with_outbox({"_id": "n"}, [item_event(spec, "n", 1)]))
        relay.notify()

        async def published() -> bool:
            return (await js.stream_info(stream_name(domain))).state.messages == 1

        await wait(published, timeout_s=5, what="the notified publish")
    finally:
        await relay.stop()


async def test_targeted_notify_publishes_the_named_documents_only(
    *,
    js: JetStreamContext,
    mongo: AsyncDatabase[dict[str, Any]],
    domain: str,
    spec: EventSpec[Any],
    wait: Any,
) -> None:
    """``notify(collection, ids)`` looks up just those documents by ``_id``; an entry nobody
    pointed at waits for the next sweep (the safety net), here an hour away."""
    items = mongo["items"]
    relay = OutboxRelay([items], js, poll_interval_s=3600, settle_s=0)
    await relay.start()
    try:
        await wait(lambda: relay.passes >= 1, what="the start-up sweep")
        await items.insert_one(with_outbox({"_id": "unhinted"}, [item_event(spec, "u", 1)]))
        await items.insert_one(with_outbox({"_id": "hinted"}, [item_event(spec, "h", 1)]))
        relay.notify("items", ["hinted"])

        async def hinted_done() -> bool:
            doc = await items.find_one({"_id": "hinted"})
            return not doc.get("outbox")

        await wait(hinted_done, timeout_s=5, what="the hinted document's publish and removal")
        assert (await js.stream_info(stream_name(domain))).state.messages == 1
        assert (await items.find_one({"_id": "unhinted"}))["outbox"]
        with pytest.raises(ValueError, match="does not watch"):
            relay.notify("elsewhere", ["x"])
        relay.notify()  # a bare notify sweeps

        async def both_published() -> bool:
            return (await js.stream_info(stream_name(domain))).state.messages == 2

        await wait(both_published, timeout_s=5, what="the sweep")
    finally:
        await relay.stop()


async def test_rapid_writes_to_one_document_survive_the_relay(
    *,
    js: JetStreamContext,
    mongo: AsyncDatabase[dict[str, Any]],
    spec: EventSpec[Any],
    consumer_name: str,
    make_consumer: Callable[..., EventConsumer],
    wait: Any,
) -> None:
    """FerretDB 1.24 loses one of two concurrent updates to a document; the relay must not
    be the other writer while a service is still writing (it removes entries only once the
    document has settled)."""
    items = mongo["items"]
    recorder = Recorder()
    consumer = make_consumer(consumer_name)
    consumer.subscribe(spec, recorder)
    await consumer.start()
    relay = OutboxRelay([items], js, poll_interval_s=0.01, settle_s=2.0)
    await relay.start()
    written: list[str] = []
    try:
        await items.insert_one({"_id": "hot", "qty": 0})
        for qty in range(1, 21):
            event = item_event(spec, "hot", qty)
            await items.update_one({"_id": "hot"}, with_events({"$inc": {"qty": 1}}, [event]))
            written.append(event.id)
            relay.notify()
        await wait(lambda: len(recorder.seen) >= 20, what="every event")
        await wait(lambda: _no_pending(items), what="the document settled and emptied")
    finally:
        await relay.stop()

    doc = await items.find_one({"_id": "hot"})
    assert doc is not None
    assert doc["qty"] == 20  # no service write was undone
    assert recorder.ids() == written


async def test_many_documents_publish_together_and_each_keeps_its_order(
    *,
    js: JetStreamContext,
    mongo: AsyncDatabase[dict[str, Any]],
    domain: str,
    spec: EventSpec[Any],
    wait: Any,
) -> None:
    """A targeted pass over 150 documents of three entries each: the relay pipelines the
    publishes across documents (async acks) yet stores each document's entries in array
    order, exactly once, and removes them all: those it read back and those handed over
    at insert (their in-memory entries must equal the stored ones for `$pullAll`)."""
    items = mongo["items"]
    docs = {f"sku-{i}": [item_event(spec, f"sku-{i}", q) for q in range(3)] for i in range(150)}
    written = [with_outbox({"_id": sku, "qty": 0}, es) for sku, es in docs.items()]
    await items.insert_many([dict(d) for d in written])
    relay = OutboxRelay([items], js, poll_interval_s=3600, settle_s=0)
    await relay.start()
    try:
        relay.notify("items", [d["_id"] for d in written[:75]])
        relay.notify("items", inserted={d["_id"]: d["outbox"] for d in written[75:]})
        await wait(lambda: _no_pending(items), timeout_s=30, what="every entry published")
    finally:
        await relay.stop()

    sub = await js.pull_subscribe(f"emporium.{domain}.>", stream=stream_name(domain))
    stored: list[dict[str, Any]] = []
    while len(stored) < 450:
        batch = await sub.fetch(450 - len(stored), timeout=5)
        stored += [orjson.loads(m.data) for m in batch]
    assert (await js.stream_info(stream_name(domain))).state.messages == 450
    for sku, events in docs.items():
        assert [e["id"] for e in stored if e["aggregate_id"] == sku] == [e.id for e in events]
