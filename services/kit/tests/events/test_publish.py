"""Streams and publishing against the real NATS JetStream."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from emporium_kit.events import (
    DLQ_STREAM,
    EventPublisher,
    EventSpec,
    StreamConfigError,
    ensure_streams,
    stream_name,
)
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

pytestmark = pytest.mark.integration


async def test_ensure_streams_creates_idempotently_and_repairs_drift(
    *, js: JetStreamContext, domain: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = stream_name(domain)
    info = await js.stream_info(name)
    assert info.config.subjects == [f"emporium.{domain}.>"]
    assert info.config.storage == StorageType.FILE
    assert info.config.duplicate_window == 120

    with caplog.at_level(logging.INFO, logger="emporium_kit.events.streams"):
        again = await ensure_streams(js, [domain])
    assert again[name].created == info.created  # not recreated
    assert not [r for r in caplog.records if name in r.getMessage()]  # nor updated

    drifted = StreamConfig(
        name=name,
        subjects=[f"emporium.{domain}.>"],
        storage=StorageType.FILE,
        duplicate_window=5,
        max_age=60,
    )
    await js.update_stream(drifted)
    with caplog.at_level(logging.INFO, logger="emporium_kit.events.streams"):
        repaired = await ensure_streams(js, [domain])
    assert f"updating stream {name}: max_age, duplicate_window drifted" in caplog.text
    assert repaired[name].config.duplicate_window == 120
    assert repaired[name].config.max_age == 7 * 24 * 3600
    assert repaired[name].config.num_replicas == 1  # repaired, never scaled down

    dlq = await js.stream_info(DLQ_STREAM)
    assert dlq.config.subjects == ["emporium.dlq.>"]
    assert dlq.config.storage == StorageType.FILE


async def test_storage_mismatch_is_reported_not_papered_over(js: JetStreamContext) -> None:
    domain = f"t{uuid.uuid4().hex[:12]}"
    await js.add_stream(
        StreamConfig(
            name=stream_name(domain),
            subjects=[f"emporium.{domain}.>"],
            storage=StorageType.MEMORY,
        )
    )
    try:
        with pytest.raises(StreamConfigError, match="storage"):
            await ensure_streams(js, [domain])
    finally:
        await js.delete_stream(stream_name(domain))


async def test_publish_sets_msg_id_and_jetstream_drops_the_duplicate(
    *,
    js: JetStreamContext,
    domain: str,
    spec: EventSpec[Any],
    metric: Callable[..., float],
) -> None:
    publisher = EventPublisher(js)
    event = spec.new(spec.payload(sku="A-1", qty=3), aggregate_id="A-1", source="tests")
    dupes_before = metric("emporium_events_publish_duplicates_total", event_type="ItemChanged")

    first = await publisher.publish(event)
    second = await publisher.publish(event)

    assert not first.duplicate
    assert second.duplicate
    assert second.seq == first.seq
    info = await js.stream_info(stream_name(domain))
    assert info.state.messages == 1
    stored = await js.get_msg(stream_name(domain), first.seq)
    assert stored.subject == f"emporium.{domain}.ItemChanged"
    assert stored.headers is not None
    assert stored.headers["Nats-Msg-Id"] == event.id
    assert spec.parse(stored.data or b"") == event
    assert (
        metric("emporium_events_publish_duplicates_total", event_type="ItemChanged")
        == dupes_before + 1
    )
