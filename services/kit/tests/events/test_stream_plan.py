"""Streams are never scaled down: the decision as a pure function, and ensure_stream acting on it.

A single-node NATS server refuses streams with more than one replica, so the path where an
existing stream has more replicas than asked is tested here with a recorded JetStream API;
the real server covers the one-replica path (test_publish.py).
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from emporium_kit.events import plan_stream
from emporium_kit.events.streams import domain_stream_config, ensure_stream
from hypothesis import given
from hypothesis import strategies as st
from nats.js.api import StreamConfig

pytestmark = pytest.mark.unit


def stream(replicas: int | None, **changes: Any) -> StreamConfig:
    config = domain_stream_config("orders", replicas=replicas or 1)
    return StreamConfig(**{**config.as_dict(), **changes, "num_replicas": replicas})


def test_more_replicas_than_asked_are_kept_and_nothing_else_changes() -> None:
    plan = plan_stream(stream(3), stream(1))
    assert plan.update is None
    assert plan.kept_replicas == 3


def test_drift_is_repaired_at_the_streams_own_replica_count() -> None:
    plan = plan_stream(stream(3, max_age=60.0, duplicate_window=5.0), stream(1))
    assert plan.update is not None
    assert plan.update.num_replicas == 3
    assert plan.update.max_age == stream(1).max_age
    assert plan.update.duplicate_window == stream(1).duplicate_window
    assert plan.drifted == ("max_age", "duplicate_window")
    assert plan.kept_replicas == 3


def test_fewer_replicas_than_asked_are_scaled_up() -> None:
    plan = plan_stream(stream(1), stream(3))
    assert plan.update is not None
    assert plan.update.num_replicas == 3
    assert plan.drifted == ("num_replicas",)
    assert plan.kept_replicas is None


def test_an_unset_replica_count_means_one() -> None:
    assert plan_stream(stream(None), stream(1)).update is None
    assert plan_stream(stream(2), stream(None)).kept_replicas == 2


def test_an_identical_stream_needs_nothing() -> None:
    plan = plan_stream(stream(3), stream(3))
    assert (plan.update, plan.drifted, plan.kept_replicas) == (None, (), None)


@given(current=st.integers(1, 5), wanted=st.integers(1, 5))
def test_the_result_has_the_larger_replica_count(current: int, wanted: int) -> None:
    plan = plan_stream(stream(current), stream(wanted))
    result = plan.update.num_replicas if plan.update is not None else current
    assert result == max(current, wanted)
    assert (plan.update is None) == (current >= wanted)


class RecordedJetStream:
    """The two JetStream calls ensure_stream makes for an existing stream."""

    def __init__(self, current: StreamConfig) -> None:
        self.current = current
        self.updates: list[StreamConfig] = []

    async def stream_info(self, _name: str) -> Any:
        return SimpleNamespace(config=self.current)

    async def update_stream(self, config: StreamConfig) -> Any:
        self.updates.append(config)
        return SimpleNamespace(config=config)


async def test_ensure_stream_repairs_drift_without_lowering_replicas(
    caplog: pytest.LogCaptureFixture,
) -> None:
    js = RecordedJetStream(stream(3, max_age=60.0))
    with caplog.at_level(logging.INFO, logger="emporium_kit.events.streams"):
        await ensure_stream(js, stream(1))  # type: ignore[arg-type]
    [update] = js.updates
    assert update.num_replicas == 3
    assert update.max_age == stream(1).max_age
    assert "EMPORIUM_ORDERS keeps its 3 replicas (asked for 1)" in caplog.text
    assert "updating stream EMPORIUM_ORDERS: max_age drifted" in caplog.text


async def test_ensure_stream_leaves_a_larger_stream_alone() -> None:
    js = RecordedJetStream(stream(5))
    await ensure_stream(js, stream(3))  # type: ignore[arg-type]
    assert js.updates == []
