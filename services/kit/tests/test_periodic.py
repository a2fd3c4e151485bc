"""PeriodicTask: runs every interval, backs off after failures, stops at once."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import pytest
from emporium_kit.workers import PeriodicTask

pytestmark = pytest.mark.unit


async def eventually(condition: object, *, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {within}s")
        await asyncio.sleep(0.01)


async def test_runs_every_interval_until_stopped() -> None:
    calls: list[float] = []

    async def job() -> None:
        calls.append(time.monotonic())

    task = PeriodicTask("tick", job, interval_s=0.05)
    started = time.monotonic()
    await task.start()
    try:
        await eventually(lambda: task.runs >= 3)
    finally:
        await task.stop()
    assert calls[0] - started >= 0.05 * 0.9  # the first run waits one (jittered) interval
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert all(gap >= 0.05 * 0.9 for gap in gaps)


async def test_a_failure_is_logged_and_retried_sooner_with_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcomes = [RuntimeError("mongo down"), RuntimeError("still down"), RuntimeError("down")]

    async def job() -> None:
        if outcomes:
            raise outcomes.pop(0)

    task = PeriodicTask("janitor", job, interval_s=0.3, retry_s=0.1, jitter=0)
    with caplog.at_level(logging.WARNING, logger="emporium_kit.workers"):
        await task.start()
        try:
            await eventually(lambda: task.runs == 1)
        finally:
            await task.stop()
    failures = [r for r in caplog.records if "janitor failed" in r.getMessage()]
    assert [r.getMessage().split(";")[1].split(":")[0] for r in failures] == [
        " next try in about 0.1s",  # retry_s
        " next try in about 0.2s",  # doubled
        " next try in about 0.3s",  # never later than the interval
    ]
    assert failures[0].exc_info  # the traceback once ...
    assert not any(r.exc_info for r in failures[1:])  # ... not on every repeat
    assert task.failures == 0


async def test_stop_cancels_a_run_in_progress_at_once() -> None:
    running, cancelled = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = PeriodicTask("slow", slow, interval_s=0.01)
    await task.start()
    await asyncio.wait_for(running.wait(), timeout=5)
    started = time.monotonic()
    await task.stop()
    assert time.monotonic() - started < 0.5
    assert cancelled.is_set()


def test_rejects_nonsense_timings() -> None:
    async def job() -> None:
        return None

    with pytest.raises(ValueError, match="interval_s"):
        PeriodicTask("x", job, interval_s=0)
    with pytest.raises(ValueError, match="jitter"):
        PeriodicTask("x", job, interval_s=1, jitter=1.5)
