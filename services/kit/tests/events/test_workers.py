"""The service workers against the real NATS JetStream and FerretDB: the outbox worker, the
consumer worker and the command-line outbox drain."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from emporium_kit import clients
from emporium_kit.app import build_app
from emporium_kit.events import (
    Event,
    EventCatalog,
    EventSpec,
    ProcessedEvents,
    list_dead_letters,
    stream_name,
    with_outbox,
)
from emporium_kit.resilience import Dependency, DependencyUnavailable
from emporium_kit.settings import ServiceSettings
from emporium_kit.workers import ConsumerWorker, Outage, OutboxWorker, drain_outbox
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pymongo.asynchronous.database import AsyncDatabase

from .conftest import ItemChanged

pytestmark = pytest.mark.integration


def settings_for(platform: Any, **overrides: Any) -> ServiceSettings:
    values = {"service_name": "kittest", "nats_url": platform.nats_url, **overrides}
    return ServiceSettings(_env_file=None, **values)


def item_event(spec: EventSpec[Any], sku: str, qty: int = 1) -> Event[Any]:
    return spec.new(spec.payload(sku=sku, qty=qty), aggregate_id=sku, source="tests")


def publishing(spec: EventSpec[Any]) -> EventCatalog:
    catalog = EventCatalog("kittest")
    catalog.publishes(spec)
    return catalog


def consuming(spec: EventSpec[Any]) -> EventCatalog:
    catalog = EventCatalog("kittest")
    catalog.consumes(spec)
    return catalog


@pytest.fixture
async def bus(platform: Any) -> AsyncIterator[clients.NatsStore]:
    store = clients.nats(settings_for(platform))
    await store.start()
    yield store
    await store.close()


async def messages(js: JetStreamContext, domain: str) -> int:
    return (await js.stream_info(stream_name(domain))).state.messages


# -- the outbox worker ----------------------------------------------------------------------


async def test_notify_publishes_within_milliseconds(
    *,
    js: JetStreamContext,
    mongo: AsyncDatabase[dict[str, Any]],
    bus: clients.NatsStore,
    domain: str,
    spec: EventSpec[Any],
    wait: Any,
) -> None:
    items = mongo["items"]
    # the safety-net sweep is an hour away: only notify() can publish within the test
    worker = OutboxWorker(
        [items], bus=bus, catalog=publishing(spec), replicas=1, poll_interval_s=3600, settle_s=0
    )
    await worker.start()
    try:
        await wait(worker.ready.is_set, what="the worker's bootstrap")
        await wait(lambda: worker.relay.passes >= 1, what="the start-up sweep")
        await items.insert_one(with_outbox({"_id": "fast"}, [item_event(spec, "fast")]))
        started = time.perf_counter()
        worker.notify("items", ["fast"])

        async def published() -> bool:
            return await messages(js, domain) == 1

        await wait(published, timeout_s=5, interval_s=0.002, what="the notified publish")
        elapsed = time.perf_counter() - started
    finally:
        await worker.stop()
    assert elapsed < 0.5, f"notify took {elapsed * 1000:.0f} ms"


async def test_a_service_starts_without_nats_and_its_outbox_worker_catches_up(
    *,
    platform: Any,
    js: JetStreamContext,
    mongo: AsyncDatabase[dict[str, Any]],
    run_app: Any,
    wait: Any,
) -> None:
    """NATS down at start-up: the app starts and answers, the worker retries its bootstrap
    (its stream does not exist yet) and publishes what was written meanwhile once NATS is
    back."""
    domain = f"t{uuid.uuid4().hex[:12]}"
    spec = EventSpec(domain, "ItemChanged", ItemChanged)
    settings = settings_for(platform, nats_timeout_s=1.0)
    bus = clients.nats(settings)
    items = mongo["items"]
    worker = OutboxWorker(
        [items], bus=bus, catalog=publishing(spec), replicas=1, poll_interval_s=0.5, settle_s=0
    )
    app = build_app(settings=settings, clients=[bus], workers=[worker])
    await asyncio.to_thread(platform.stop, "nats")
    try:
        async with run_app(app) as client:
            assert (await client.get("/livez")).status_code == 200
            assert (await client.get("/readyz")).status_code == 503  # NATS is critical here
            await items.insert_one(with_outbox({"_id": "late"}, [item_event(spec, "late")]))
            worker.notify("items", ["late"])
            assert not worker.ready.is_set()
            await asyncio.to_thread(platform.start, "nats")
            await wait(worker.ready.is_set, timeout_s=60, what="the bootstrap after NATS returned")

            async def emptied() -> bool:
                doc = await items.find_one({"_id": "late"})
                return not doc["outbox"]

            await wait(emptied, timeout_s=30, what="the outbox published and emptied")
            assert (await client.get("/readyz")).status_code == 200
        info = await js.stream_info(stream_name(domain))
        assert (info.state.messages, info.config.num_replicas) == (1, 1)
    finally:
        if not platform.is_ready("nats"):
            await asyncio.to_thread(platform.start, "nats")
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(stream_name(domain))


# -- the consumer worker --------------------------------------------------------------------


@pytest.fixture
def processed(mongo: AsyncDatabase[dict[str, Any]]) -> ProcessedEvents:
    return ProcessedEvents(mongo["processed_events"])


@pytest.fixture
async def make_worker(
    bus: clients.NatsStore, processed: ProcessedEvents, spec: EventSpec[Any]
) -> AsyncIterator[Callable[..., ConsumerWorker]]:
    """Consumer workers of ``spec`` with fast test timings; every one is stopped at teardown."""
    built: list[ConsumerWorker] = []

    def factory(name: str, handler: Any, **options: Any) -> ConsumerWorker:
        options.setdefault("backoff_s", (0.05,))
        options.setdefault("fetch_timeout_s", 0.2)
        worker = ConsumerWorker(
            name,
            bus=bus,
            processed=processed,
            catalog=consuming(spec),
            handlers={spec: handler},
            replicas=1,
            **options,
        )
        built.append(worker)
        return worker

    yield factory
    for worker in built:
        await worker.stop()


async def test_the_deliver_policy_is_a_setting(
    *,
    spec: EventSpec[Any],
    make_worker: Callable[..., ConsumerWorker],
    publish: Callable[..., Any],
    wait: Any,
) -> None:
    seen: dict[str, list[str]] = {"all": [], "new": []}

    def recorder(policy: str) -> Callable[[Event[Any]], Any]:
        async def record(event: Event[Any]) -> None:
            seen[policy].append(event.data.sku)

        return record

    await publish(item_event(spec, "before"))
    name = f"test-{uuid.uuid4().hex[:8]}"
    new = make_worker(f"{name}-new", recorder("new"), deliver="new")
    everything = make_worker(f"{name}-all", recorder("all"), deliver="all")
    for worker in (new, everything):
        await worker.start()
        await wait(worker.ready.is_set, what=f"{worker.name} started")
    await publish(item_event(spec, "after"))
    await wait(lambda: seen["all"] == ["before", "after"], what="everything from the start")
    await wait(lambda: seen["new"] == ["after"], what="only what came after")


async def test_a_failing_bootstrap_is_retried(
    *, spec: EventSpec[Any], make_worker: Callable[..., ConsumerWorker], publish: Any, wait: Any
) -> None:
    attempts: list[int] = []
    handled: list[str] = []

    async def setup() -> None:  # the service's own preparation, e.g. an index bootstrap
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("index store not reachable yet")

    async def handle(event: Event[Any]) -> None:
        handled.append(event.data.sku)

    worker = make_worker(f"test-{uuid.uuid4().hex[:8]}", handle, setup=setup)
    await worker.start()
    await wait(worker.ready.is_set, what="the third bootstrap attempt")
    assert len(attempts) == 3
    await publish(item_event(spec, "x"))
    await wait(lambda: handled == ["x"], what="the event handled")


async def test_old_processed_records_are_pruned(
    *,
    processed: ProcessedEvents,
    make_worker: Callable[..., ConsumerWorker],
    wait: Any,
) -> None:
    old, recent = datetime.now(UTC) - timedelta(hours=2), datetime.now(UTC)
    await processed.collection.insert_many(
        [
            {"_id": "done:x:old", "status": "done", "done_at": old},
            {"_id": "done:x:recent", "status": "done", "done_at": recent},
        ]
    )

    async def handle(_event: Event[Any]) -> None:
        return None

    worker = make_worker(
        f"test-{uuid.uuid4().hex[:8]}",
        handle,
        processed_retention_s=3600,
        prune_interval_s=0.1,
    )
    await worker.start()

    async def pruned() -> bool:
        return await processed.collection.find_one({"_id": "done:x:old"}) is None

    await wait(pruned, what="the old record pruned")
    assert await processed.collection.find_one({"_id": "done:x:recent"}) is not None


class FlakyStore:
    """A dependency the test switches off and on; ``pings`` counts the probes that reached it."""

    def __init__(self) -> None:
        self.up = False
        self.pings = 0
        self.dependency = Dependency(
            "flaky", ping=self.ping, timeout_s=0.5, fail_max=1000, reset_timeout_s=0.05
        )

    async def ping(self) -> None:
        self.pings += 1
        if not self.up:
            raise ConnectionError("flaky store is down")

    async def write(self, event: Event[Any], log: list[str]) -> None:
        if not self.up:
            raise DependencyUnavailable("DEPENDENCY_UNAVAILABLE", "flaky is unavailable")
        log.append(event.data.sku)


@pytest.mark.usefixtures("clean_dlq")
async def test_an_outage_is_waited_out_without_burning_deliveries(
    *,
    js: JetStreamContext,
    domain: str,
    spec: EventSpec[Any],
    consumer_name: str,
    make_worker: Callable[..., ConsumerWorker],
    publish: Any,
    wait: Any,
) -> None:
    store, written, attempts = FlakyStore(), [], []

    async def handle(event: Event[Any]) -> None:
        attempts.append(event.id)
        await store.write(event, written)

    worker = make_worker(
        consumer_name,
        handle,
        max_deliver=2,
        ack_wait_s=1.0,
        outage=Outage(store.dependency, wait_s=60, pause_s=0.05),
    )
    await worker.start()
    await wait(worker.ready.is_set, what="the consumer")
    await publish(item_event(spec, "patient"))
    # down for well over two ack waits: the in-progress acks keep the message with us
    await wait(lambda: store.pings >= 60, timeout_s=30, what="three seconds of probing")
    assert len(attempts) == 1  # probing, not re-running the handler
    store.up = True
    await wait(lambda: written == ["patient"], what="the write once the store is back")

    async def acked() -> Any:
        info = await js.consumer_info(stream_name(domain), consumer_name)
        return info if info.num_ack_pending == 0 else None

    info = await wait(acked, what="the ack after the write")
    assert info.num_redelivered == 0  # one delivery
    assert len(attempts) == 2
    assert await list_dead_letters(js, consumer=consumer_name) == []


@pytest.mark.usefixtures("clean_dlq")
async def test_stop_ends_an_outage_wait_at_once_and_gives_the_message_back(
    *,
    js: JetStreamContext,
    spec: EventSpec[Any],
    consumer_name: str,
    make_worker: Callable[..., ConsumerWorker],
    publish: Any,
    wait: Any,
) -> None:
    store, attempts = FlakyStore(), []

    async def handle(event: Event[Any]) -> None:
        attempts.append(event.id)
        await store.write(event, [])

    worker = make_worker(
        consumer_name, handle, outage=Outage(store.dependency, wait_s=60, pause_s=0.05)
    )
    await worker.start()
    await wait(worker.ready.is_set, what="the consumer")
    await publish(item_event(spec, "interrupted"))
    await wait(lambda: store.pings >= 3, what="the outage wait")
    started = time.perf_counter()
    await worker.stop()
    assert time.perf_counter() - started < 2.0
    assert len(attempts) == 1
    assert worker.consumer is None
    assert not worker.ready.is_set()

    # given back, not lost or dead-lettered: the next replica of the durable handles it
    store.up = True
    written: list[str] = []

    async def write(event: Event[Any]) -> None:
        await store.write(event, written)

    successor = make_worker(consumer_name, write)
    await successor.start()
    await wait(lambda: written == ["interrupted"], what="the successor's delivery")
    assert await list_dead_letters(js, consumer=consumer_name) == []


async def test_a_handler_for_an_undeclared_event_is_refused(
    bus: clients.NatsStore, processed: ProcessedEvents, spec: EventSpec[Any]
) -> None:
    async def handle(_event: Event[Any]) -> None:
        return None

    with pytest.raises(LookupError, match="does not declare consuming"):
        ConsumerWorker(
            "undeclared",
            bus=bus,
            processed=processed,
            catalog=EventCatalog("kittest"),
            handlers={spec: handle},
            replicas=1,
        )


# -- the command-line drain ---------------------------------------------------------------


async def test_drain_publishes_everything_pending_and_creates_the_stream(
    *, platform: Any, js: JetStreamContext, mongo: AsyncDatabase[dict[str, Any]]
) -> None:
    domain = f"t{uuid.uuid4().hex[:12]}"
    spec = EventSpec(domain, "ItemChanged", ItemChanged)
    items = mongo["items"]
    for sku in ("a", "b", "c"):
        await items.insert_one(with_outbox({"_id": sku}, [item_event(spec, sku)]))
    try:
        result = await drain_outbox(settings_for(platform), [items], catalog=publishing(spec))
        assert (result.published, result.remaining) == (3, 0)
        assert str(result) == "published 3 event(s)"
        assert await messages(js, domain) == 3
        assert await items.count_documents({"outbox.id": {"$exists": True}}) == 0
    finally:
        await js.delete_stream(stream_name(domain))


def _closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_drain_stops_at_the_deadline_and_says_what_is_left(
    *, platform: Any, mongo: AsyncDatabase[dict[str, Any]], spec: EventSpec[Any]
) -> None:
    items = mongo["items"]
    await items.insert_one(with_outbox({"_id": "stuck"}, [item_event(spec, "stuck")]))
    unreachable = settings_for(
        platform, nats_url=f"nats://127.0.0.1:{_closed_loopback_port()}", nats_timeout_s=0.5
    )
    started = time.perf_counter()
    result = await drain_outbox(unreachable, [items], catalog=publishing(spec), deadline_s=1.0)
    assert time.perf_counter() - started < 5
    assert (result.published, result.remaining) == (0, 1)
    assert "1 document(s) still hold events" in str(result)
    assert "the service's outbox worker will publish them" in str(result)
    assert (await items.find_one({"_id": "stuck"}))["outbox"]
