"""Durable consumers: idempotency, dead letters, replay, draining, trace propagation."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from emporium_kit.events import (
    Event,
    EventConsumer,
    EventPublisher,
    EventSpec,
    OutboxRelay,
    ProcessedEvents,
    list_dead_letters,
    stream_name,
    with_outbox,
)
from emporium_kit.events.cli import build_parser, run
from emporium_kit.events.processed import ClaimOutcome
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.integration


def item_event(spec: EventSpec[Any], sku: str = "sku", qty: int = 1) -> Event[Any]:
    return spec.new(spec.payload(sku=sku, qty=qty), aggregate_id=sku, source="tests")


async def test_duplicate_deliveries_of_one_event_apply_its_effect_once(
    *,
    js: JetStreamContext,
    mongo: AsyncDatabase[dict[str, Any]],
    domain: str,
    spec: EventSpec[Any],
    consumer_name: str,
    make_consumer: Callable[..., EventConsumer],
    settled: Callable[[str], Any],
    metric: Callable[..., float],
    wait: Any,
) -> None:
    stock = mongo["stock"]
    calls: list[str] = []

    async def apply(event: Event[Any]) -> None:
        calls.append(event.id)
        await stock.update_one(
            {"_id": event.data.sku}, {"$inc": {"qty": event.data.qty}}, upsert=True
        )

    consumer = make_consumer(consumer_name)
    consumer.subscribe(spec, apply)
    event = item_event(spec, "sku-d", 5)
    duplicates = metric(
        "emporium_events_consumed_total",
        consumer=consumer_name,
        event_type="ItemChanged",
        outcome="duplicate",
    )
    # Three copies as separate stream messages: a republish after the duplicate window,
    # a replay, a second publisher — JetStream cannot dedupe these.
    for copy in range(3):
        ack = await js.publish(
            event.subject, event.to_json(), headers={"Nats-Msg-Id": f"{event.id}-{copy}"}
        )
        assert not ack.duplicate
    await consumer.start()

    await wait(lambda: settled(consumer_name), what="all three copies settled")
    assert calls == [event.id]
    assert await stock.find_one({"_id": "sku-d"}) == {"_id": "sku-d", "qty": 5}
    assert (
        metric(
            "emporium_events_consumed_total",
            consumer=consumer_name,
            event_type="ItemChanged",
            outcome="duplicate",
        )
        == duplicates + 2
    )
    assert await ProcessedEvents(mongo["processed_events"]).is_done(consumer_name, event.id)


@pytest.mark.usefixtures("clean_dlq")
async def test_always_failing_consumer_dead_letters_then_replay_processes_it(
    *,
    js: JetStreamContext,
    mongo: AsyncDatabase[dict[str, Any]],
    domain: str,
    spec: EventSpec[Any],
    consumer_name: str,
    make_consumer: Callable[..., EventConsumer],
    settled: Callable[[str], Any],
    metric: Callable[..., float],
    wait: Any,
    platform: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    attempts: list[int] = []

    async def broken(event: Event[Any]) -> None:
        attempts.append(1)
        raise RuntimeError(f"cannot handle {event.data.sku}")

    failing = make_consumer(consumer_name, max_deliver=3)
    failing.subscribe(spec, broken)
    await failing.start()
    event = item_event(spec, "sku-x")
    await EventPublisher(js).publish(event)

    letters = await wait(
        lambda: list_dead_letters(js, consumer=consumer_name), what="the dead letter"
    )
    await wait(lambda: settled(consumer_name), what="the message terminated")
    await failing.stop()
    assert len(attempts) == 3
    (letter,) = letters
    assert letter.subject == f"emporium.dlq.{consumer_name}.{domain}.ItemChanged"
    assert letter.original_subject == event.subject
    assert letter.consumer == consumer_name
    assert letter.event_id == event.id
    assert letter.deliveries == 3
    assert letter.error == "RuntimeError: cannot handle sku-x"
    assert letter.headers["Emporium-Original-Stream"] == stream_name(domain)
    assert spec.parse(letter.data) == event
    labels = {"consumer": consumer_name, "event_type": "ItemChanged"}
    assert metric("emporium_events_dead_lettered_total", **labels) == 1
    assert metric("emporium_events_redelivered_total", **labels) == 2

    # The CLI lists it (a separate process, as an operator would run it).
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "emporium_kit.events.cli", "--nats-url", platform.nats_url,
        "dlq", "list", "--consumer", consumer_name, "--json",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, _ = await asyncio.wait_for(cli.communicate(), timeout=60)
    assert cli.returncode == 0
    rows = orjson.loads(stdout)
    assert [(r["seq"], r["event_id"], r["deliveries"]) for r in rows] == [(letter.seq, event.id, 3)]

    handled: list[Event[Any]] = []

    async def fixed(event: Event[Any]) -> None:
        handled.append(event)

    repaired = make_consumer(consumer_name, max_deliver=3)
    repaired.subscribe(spec, fixed)
    await repaired.start()
    await run(build_parser().parse_args(["dlq", "replay", "--consumer", consumer_name]))
    assert f"replayed {letter.seq:>8}" in capsys.readouterr().out

    await wait(lambda: handled, what="the replayed event")
    assert [e.id for e in handled] == [event.id]  # same envelope, same event id
    assert await list_dead_letters(js, consumer=consumer_name) == []
    await wait(lambda: settled(consumer_name), what="the replay acked")
    assert await ProcessedEvents(mongo["processed_events"]).is_done(consumer_name, event.id)


@pytest.mark.usefixtures("clean_dlq")
async def test_unreadable_event_is_dead_lettered_on_first_delivery(
    *,
    js: JetStreamContext,
    domain: str,
    spec: EventSpec[Any],
    consumer_name: str,
    make_consumer: Callable[..., EventConsumer],
    wait: Any,
) -> None:
    calls: list[Event[Any]] = []

    async def handler(event: Event[Any]) -> None:
        calls.append(event)

    consumer = make_consumer(consumer_name, max_deliver=5)
    consumer.subscribe(spec, handler)
    await consumer.start()
    wire = orjson.loads(item_event(spec).to_json())
    wire["data"]["qty"] = "many"
    await js.publish(spec.subject, orjson.dumps(wire))

    (letter,) = await wait(
        lambda: list_dead_letters(js, consumer=consumer_name), what="the dead letter"
    )
    assert letter.deliveries == 1
    assert letter.error.startswith("invalid event:")
    assert "qty" in letter.error
    assert letter.event_id is None
    assert calls == []


async def test_stop_finishes_the_message_in_hand_and_hands_back_the_rest(
    *,
    js: JetStreamContext,
    mongo: AsyncDatabase[dict[str, Any]],
    domain: str,
    spec: EventSpec[Any],
    consumer_name: str,
    make_consumer: Callable[..., EventConsumer],
    settled: Callable[[str], Any],
    wait: Any,
) -> None:
    gate = asyncio.Event()
    first_calls: list[str] = []

    async def slow(event: Event[Any]) -> None:
        first_calls.append(event.id)
        await gate.wait()

    consumer = make_consumer(consumer_name, batch_size=10)
    consumer.subscribe(spec, slow)
    events = [item_event(spec, "a"), item_event(spec, "b")]
    publisher = EventPublisher(js)
    for event in events:
        await publisher.publish(event)
    await consumer.start()
    await wait(lambda: first_calls, what="the first handler to start")

    stopping = asyncio.create_task(consumer.stop())
    await asyncio.sleep(0.3)  # stop() is waiting on the handler, not cutting it off
    assert not stopping.done()
    gate.set()
    await asyncio.wait_for(stopping, timeout=10)
    assert first_calls == [events[0].id]
    processed = ProcessedEvents(mongo["processed_events"])
    assert await processed.is_done(consumer_name, events[0].id)
    assert not await processed.is_done(consumer_name, events[1].id)

    later_calls: list[str] = []

    async def fast(event: Event[Any]) -> None:
        later_calls.append(event.id)

    successor = make_consumer(consumer_name)
    successor.subscribe(spec, fast)
    await successor.start()
    await wait(lambda: later_calls, what="the handed-back message")
    await wait(lambda: settled(consumer_name), what="everything acked")
    assert later_calls == [events[1].id]


async def test_processed_store_claims_leases_and_takeover(
    *, mongo: AsyncDatabase[dict[str, Any]], wait: Any
) -> None:
    store = ProcessedEvents(mongo["processed_events"])
    await store.ensure_indexes()

    # a lease long enough that a loaded machine still sees it live on the second claim
    first = await store.claim("c", "e1", lease_s=2)
    assert first.outcome is ClaimOutcome.CLAIMED
    busy = await store.claim("c", "e1", lease_s=2)
    assert busy.outcome is ClaimOutcome.BUSY
    assert 0 < busy.retry_after_s <= 2
    assert (await store.claim("other-consumer", "e1", lease_s=1)).outcome is ClaimOutcome.CLAIMED

    # The first claimant "died": once its lease lapses another delivery takes over.
    takeover = await wait(
        lambda: _claimed(store.claim("c", "e1", lease_s=30)), what="the lease to lapse"
    )
    assert first.token is not None
    assert takeover.token is not None
    assert not await store.complete("c", "e1", first.token)  # the stale owner cannot finish
    assert await store.complete("c", "e1", takeover.token)
    assert (await store.claim("c", "e1", lease_s=30)).outcome is ClaimOutcome.DONE

    released = await store.claim("c", "e2", lease_s=30)
    assert released.token is not None
    await store.release("c", "e2", released.token)
    assert (await store.claim("c", "e2", lease_s=30)).outcome is ClaimOutcome.CLAIMED
    # the done e1 and the record of its takeover; the live e2 claim stays
    assert await store.prune(older_than=timedelta(0)) == 2
    assert not await store.is_done("c", "e1")
    assert await mongo["processed_events"].find_one({"_id": "claim:c:e2"}) is not None


async def test_of_many_replicas_taking_over_one_expired_claim_exactly_one_wins(
    *, platform: Any, mongo: AsyncDatabase[dict[str, Any]], wait: Any
) -> None:
    """FerretDB applies a conditional update as an unguarded read-modify-write, so with a
    compare-and-set takeover several replicas would believe they owned the event. Replicas on
    independent clients take over one crashed claim at once, round after round."""
    clients = [AsyncMongoClient(platform.mongo_url, tz_aware=True) for _ in range(8)]
    try:
        for round_ in range(5):
            event_id = f"e{round_}"
            collection = mongo["processed_events"]
            crashed = await ProcessedEvents(collection).claim("c", event_id, lease_s=0.05)
            assert crashed.outcome is ClaimOutcome.CLAIMED
            stale = await collection.find_one({"_id": f"claim:c:{event_id}"})

            async def lapsed(stale: dict[str, Any] = stale) -> bool:
                return datetime.now(UTC) > stale["lease_until"]

            await wait(lapsed, what="the crashed owner's lease to lapse")
            replicas = [
                ProcessedEvents(clients[n % len(clients)][mongo.name]["processed_events"])
                for n in range(40)
            ]
            claims = await asyncio.gather(*(r.claim("c", event_id, lease_s=30) for r in replicas))
            winners = [c for c in claims if c.outcome is ClaimOutcome.CLAIMED]
            assert len(winners) == 1, [c.outcome.value for c in claims]
            assert {c.outcome for c in claims} == {ClaimOutcome.CLAIMED, ClaimOutcome.BUSY}
            owner = await collection.find_one({"_id": f"claim:c:{event_id}"})
            assert owner["owner"] == winners[0].token
    finally:
        for client in clients:
            await client.close()


async def _claimed(pending: Any) -> Any:
    claim = await pending
    return claim if claim.outcome is ClaimOutcome.CLAIMED else None


async def test_one_trace_spans_publisher_outbox_and_consumer(
    *,
    js: JetStreamContext,
    mongo: AsyncDatabase[dict[str, Any]],
    domain: str,
    spec: EventSpec[Any],
    consumer_name: str,
    make_consumer: Callable[..., EventConsumer],
    spans: tuple[TracerProvider, InMemorySpanExporter],
    wait: Any,
) -> None:
    provider, exporter = spans
    tracer = provider.get_tracer("test")
    seen: dict[str, int] = {}

    async def handler(event: Event[Any]) -> None:
        seen[event.data.sku] = trace.get_current_span().get_span_context().trace_id

    consumer = make_consumer(consumer_name, tracer=tracer)
    consumer.subscribe(spec, handler)
    await consumer.start()

    with tracer.start_as_current_span("direct request") as direct:
        await EventPublisher(js, tracer=tracer).publish(item_event(spec, "direct"))
    items = mongo["items"]
    with tracer.start_as_current_span("outbox request") as request:
        await items.insert_one(with_outbox({"_id": "o"}, [item_event(spec, "outbox")]))
    relay = OutboxRelay([items], js, tracer=tracer)
    assert await relay.run_once() == 1  # outside any span: the entry carries the trace

    await wait(lambda: len(seen) == 2, what="both events handled")
    assert seen["direct"] == direct.get_span_context().trace_id
    assert seen["outbox"] == request.get_span_context().trace_id
    assert seen["direct"] != seen["outbox"]

    subject = spec.subject

    def spans_closed() -> dict[tuple[str, int], Any] | None:
        # the handler runs inside the consumer's span, which closes just after it returns
        done = {(s.name, s.context.trace_id): s for s in exporter.get_finished_spans()}
        wanted = [(f"process {subject}", t) for t in seen.values()]
        return done if all(key in done for key in wanted) else None

    finished = await wait(spans_closed, what="the consumer spans to close")
    for trace_id in seen.values():
        send = finished[(f"send {subject}", trace_id)]
        process = finished[(f"process {subject}", trace_id)]
        assert process.parent is not None
        assert process.parent.span_id == send.context.span_id
        assert process.kind is trace.SpanKind.CONSUMER
        assert send.kind is trace.SpanKind.PRODUCER


async def test_restart_with_more_subscriptions_updates_the_durable(
    *,
    js: JetStreamContext,
    domain: str,
    spec: EventSpec[Any],
    consumer_name: str,
    make_consumer: Callable[..., EventConsumer],
    wait: Any,
) -> None:
    async def ignore(event: Event[Any]) -> None:
        return None

    first = make_consumer(consumer_name, ack_wait_s=30)
    first.subscribe(spec, ignore)
    await first.setup()
    removed = EventSpec(domain, "ItemRemoved", spec.payload)
    handled: list[str] = []

    async def on_removed(event: Event[Any]) -> None:
        handled.append(event.type)

    second = make_consumer(consumer_name, ack_wait_s=45)
    second.subscribe(spec, ignore)
    second.subscribe(removed, on_removed)
    await second.start()
    info = await js.consumer_info(stream_name(domain), consumer_name)
    assert sorted(info.config.filter_subjects or []) == [spec.subject, removed.subject]
    assert info.config.ack_wait == 45
    assert info.config.max_deliver == -1  # the kit bounds handler attempts itself

    await EventPublisher(js).publish(item_event(removed))
    await wait(lambda: handled == ["ItemRemoved"], what="the newly subscribed type")
