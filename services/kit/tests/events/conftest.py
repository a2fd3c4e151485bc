"""Fixtures for the event bus tests: real NATS JetStream and FerretDB from the platform.

Every test gets its own event domain (so its own stream), its own Mongo database and its
own consumer names, because other suites share the same servers.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest
from emporium_kit.events import (
    EventConsumer,
    EventPublisher,
    EventSpec,
    ProcessedEvents,
    discard_dead_letters,
    ensure_streams,
    stream_name,
)
from nats.js import JetStreamContext
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

Waiter = Callable[..., Awaitable[Any]]


class ItemChanged(BaseModel):
    """The payload the tests publish."""

    sku: str
    qty: int


async def wait_until(
    predicate: Callable[[], Awaitable[Any] | Any],
    *,
    timeout_s: float = 10.0,
    interval_s: float = 0.02,
    what: str = "condition",
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(interval_s)


@pytest.fixture
def wait() -> Waiter:
    return wait_until


@pytest.fixture
async def js(platform: Any) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(platform.nats_url, connect_timeout=5)
    try:
        yield nc.jetstream(timeout=5)
    finally:
        await nc.close()


@pytest.fixture
async def mongo(platform: Any) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        platform.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000
    )
    name = f"events_test_{uuid.uuid4().hex[:10]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


@pytest.fixture
async def domain(js: JetStreamContext) -> AsyncIterator[str]:
    """A fresh event domain with its stream (and the shared DLQ stream) in place."""
    name = f"t{uuid.uuid4().hex[:12]}"
    await ensure_streams(js, [name])
    try:
        yield name
    finally:
        await js.delete_stream(stream_name(name))


@pytest.fixture
def spec(domain: str) -> EventSpec[ItemChanged]:
    return EventSpec(domain, "ItemChanged", ItemChanged)


@pytest.fixture
def consumer_name() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def clean_dlq(js: JetStreamContext, consumer_name: str) -> AsyncIterator[None]:
    yield
    await discard_dead_letters(js, consumer=consumer_name)


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    """A private tracer provider (the global one belongs to the app under test)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
def metric() -> Callable[..., float]:
    """``metric(name, **labels)``: the current value of a sample in the default registry."""

    def read(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    return read


@pytest.fixture
async def make_consumer(
    js: JetStreamContext, mongo: AsyncDatabase[dict[str, Any]]
) -> AsyncIterator[Callable[..., EventConsumer]]:
    """Build consumers with fast test timings; every one built is stopped at teardown."""
    built: list[EventConsumer] = []

    def factory(name: str, **options: Any) -> EventConsumer:
        options.setdefault("backoff_s", (0.05,))
        options.setdefault("fetch_timeout_s", 0.2)
        consumer = EventConsumer(name, js, ProcessedEvents(mongo["processed_events"]), **options)
        built.append(consumer)
        return consumer

    yield factory
    for consumer in built:
        await consumer.stop()


@pytest.fixture
def publish(js: JetStreamContext) -> Callable[..., Awaitable[Any]]:
    publisher = EventPublisher(js)
    return publisher.publish


@pytest.fixture
def settled(js: JetStreamContext, domain: str) -> Callable[[str], Awaitable[bool]]:
    """``await settled(consumer)``: the durable delivered and got an answer for everything."""

    async def check(consumer: str) -> bool:
        info = await js.consumer_info(stream_name(domain), consumer)
        return info.num_pending == 0 and info.num_ack_pending == 0

    return check
