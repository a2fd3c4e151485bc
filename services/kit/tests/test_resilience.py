"""Breaker + timeout state machine of ``Dependency`` and the ``Dependencies`` readiness."""

from __future__ import annotations

import asyncio
import time

import pytest
from emporium_kit.errors import NotFound
from emporium_kit.resilience import Dependencies, Dependency, DependencyUnavailable

pytestmark = pytest.mark.unit


class FakeRemote:
    """A coroutine-based stand-in for a remote call whose health the test flips."""

    def __init__(self) -> None:
        self.up = True
        self.calls = 0
        self.delay_s = 0.0

    async def __call__(self) -> str:
        self.calls += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if not self.up:
            raise ConnectionError("remote down")
        return "pong"


def make(remote: FakeRemote, **kwargs: object) -> Dependency:
    options: dict[str, object] = {"timeout_s": 0.2, "fail_max": 3, "reset_timeout_s": 0.2}
    options.update(kwargs)
    return Dependency("remote", ping=remote, **options)  # type: ignore[arg-type]


async def fail_times(dep: Dependency, remote: FakeRemote, n: int) -> None:
    for _ in range(n):
        with pytest.raises((ConnectionError, DependencyUnavailable)):
            await dep.call(remote)


async def test_call_returns_value_and_stays_closed() -> None:
    remote = FakeRemote()
    dep = make(remote)
    assert await dep.call(remote) == "pong"
    assert dep.state == "closed"


async def test_opens_after_fail_max_consecutive_failures_and_fails_fast() -> None:
    remote = FakeRemote()
    dep = make(remote)
    remote.up = False
    await fail_times(dep, remote, 2)
    assert dep.state == "closed"
    # the third failure trips the breaker; pybreaker reports it as the breaker error
    with pytest.raises(DependencyUnavailable) as tripped:
        await dep.call(remote)
    assert tripped.value.code == "DEPENDENCY_UNAVAILABLE"
    assert dep.state == "open"
    calls = remote.calls
    with pytest.raises(DependencyUnavailable):
        await dep.call(remote)
    assert remote.calls == calls, "an open breaker must not call the dependency"


async def test_success_resets_the_failure_count() -> None:
    remote = FakeRemote()
    dep = make(remote)
    remote.up = False
    await fail_times(dep, remote, 2)
    remote.up = True
    await dep.call(remote)
    remote.up = False
    await fail_times(dep, remote, 2)
    assert dep.state == "closed"


async def test_half_open_trial_success_closes() -> None:
    remote = FakeRemote()
    dep = make(remote)
    remote.up = False
    await fail_times(dep, remote, 3)
    assert dep.state == "open"
    remote.up = True
    await asyncio.sleep(0.25)
    assert await dep.call(remote) == "pong"
    assert dep.state == "closed"


async def test_half_open_trial_failure_reopens() -> None:
    remote = FakeRemote()
    dep = make(remote)
    remote.up = False
    await fail_times(dep, remote, 3)
    await asyncio.sleep(0.25)
    calls = remote.calls
    with pytest.raises(DependencyUnavailable):
        await dep.call(remote)
    assert remote.calls == calls + 1, "the half-open trial reaches the dependency"
    assert dep.state == "open"


async def test_timeout_is_a_failure_and_bounded() -> None:
    remote = FakeRemote()
    remote.delay_s = 5
    dep = make(remote, timeout_s=0.05, fail_max=2)
    started = time.perf_counter()
    with pytest.raises(DependencyUnavailable) as timed_out:
        await dep.call(remote)
    assert timed_out.value.code == "DEPENDENCY_TIMEOUT"
    assert time.perf_counter() - started < 1
    assert dep.breaker.fail_counter == 1


async def test_guard_context_manager_records_failures() -> None:
    dep = make(FakeRemote(), fail_max=1)
    with pytest.raises(DependencyUnavailable):
        async with dep.guard():
            raise ConnectionError("boom")
    assert dep.state == "open"


async def test_domain_and_excluded_errors_do_not_count() -> None:
    class AnswerError(Exception):
        pass

    dep = make(FakeRemote(), fail_max=1, exclude=(AnswerError,))
    for error in (NotFound("X", "missing"), AnswerError()):
        with pytest.raises(type(error)):
            async with dep.guard():
                raise error
    assert dep.state == "closed"


async def test_a_saturated_pool_is_a_clear_refusal_not_a_failure() -> None:
    class PoolFullError(Exception):
        pass

    dep = make(FakeRemote(), fail_max=1, saturated=(PoolFullError,))
    for _ in range(3):
        with pytest.raises(DependencyUnavailable) as refused:
            async with dep.guard():
                raise PoolFullError
        assert refused.value.code == "DEPENDENCY_SATURATED"
        assert isinstance(refused.value.__cause__, PoolFullError)
    assert dep.state == "closed"


async def test_cancellation_is_not_a_failure() -> None:
    remote = FakeRemote()
    remote.delay_s = 5
    dep = make(remote, fail_max=1, timeout_s=10)
    task = asyncio.create_task(dep.call(remote))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert dep.state == "closed"


async def test_readiness_follows_the_dependency_down_and_back() -> None:
    critical, optional = FakeRemote(), FakeRemote()
    deps = Dependencies(
        [
            make(critical),
            Dependency("optional", ping=optional, timeout_s=0.2, critical=False),
        ]
    )
    ready = await deps.ready()
    assert ready.ready
    assert set(ready.checks) == {"remote", "optional"}

    optional.up = False
    ready = await deps.ready()
    assert ready.ready, "a non-critical dependency does not gate readiness"
    assert not ready.checks["optional"].ok

    critical.up = False
    ready = await deps.ready()
    assert not ready.ready
    assert ready.checks["remote"].error == "ConnectionError"

    for _ in range(3):
        await deps.ready()
    assert deps["remote"].state == "open"
    assert (await deps.ready()).checks["remote"].error == "DEPENDENCY_UNAVAILABLE"

    critical.up = True
    # still open until the reset timeout passes, then the probe is the half-open trial
    assert not (await deps.ready()).ready
    await asyncio.sleep(0.25)
    ready = await deps.ready()
    assert ready.ready
    assert ready.checks["remote"].breaker == "closed"
    assert ready.as_dict()["status"] == "ready"


def test_registry_rejects_duplicate_names() -> None:
    deps = Dependencies([Dependency("a")])
    with pytest.raises(ValueError, match="twice"):
        deps.add(Dependency("a"))
