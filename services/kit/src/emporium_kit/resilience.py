"""Timeouts + circuit breakers around every outbound call, and readiness built on them.

``Dependency`` couples a pybreaker ``CircuitBreaker`` with a timeout and an active probe::

    redis_dep = Dependency("redis", ping=client.ping, timeout_s=0.5, critical=True)
    async with redis_dep.guard():            # breaker + asyncio.timeout
        await client.get(key)
    value = await redis_dep.call(client.get, key)

pybreaker's decorator only sees exceptions raised synchronously, so a coroutine's failure is
recorded by awaiting it inside ``with breaker.calling():``. A timeout is a failure; domain
errors and cancellation (a client hanging up) are not. Neither is *saturation*: the types
given as ``saturated`` (pymongo's ``WaitQueueTimeoutError``: every pooled connection is busy)
mean this process is asking too much at once, not that the dependency is down; they are
raised as :class:`DependencyUnavailable` ``DEPENDENCY_SATURATED`` at once, so a request fails
with a clear retryable error instead of queueing. Once ``fail_max`` consecutive calls
fail the breaker opens and calls fail fast with :class:`DependencyUnavailable` until
``reset_timeout_s`` has passed; the next call (or readiness probe) is the half-open trial.

``Dependencies`` is the registry the app's ``/readyz`` asks: :meth:`Dependencies.ready`
probes every dependency concurrently (through its breaker, so a successful probe closes a
half-open breaker) and is ready when every *critical* one answered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import pybreaker

from emporium_kit.errors import DomainError, Unavailable

P = ParamSpec("P")
T = TypeVar("T")

Ping = Callable[[], Awaitable[Any]]


class DependencyUnavailable(Unavailable):
    """Raised instead of calling a dependency whose breaker is open, or that timed out."""


@dataclass(frozen=True, slots=True)
class DependencyState:
    """One dependency's readiness: ``ok`` is the probe result, ``breaker`` pybreaker's state."""

    name: str
    critical: bool
    ok: bool
    breaker: str
    latency_ms: float | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "critical": self.critical,
            "breaker": self.breaker,
            "latency_ms": self.latency_ms,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    checks: dict[str, DependencyState] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "unavailable",
            "checks": {name: state.as_dict() for name, state in self.checks.items()},
        }


class Dependency:
    """A named outbound dependency: breaker + per-call timeout + readiness probe.

    ``Dependency(name, *, ping=None, timeout_s=2.0, critical=True, fail_max=5,
    reset_timeout_s=10.0, exclude=(), saturated=())``. ``exclude`` lists exception types that
    mean "the dependency answered" (duplicate key, not found...); they never count as
    failures. ``saturated`` lists those meaning "no free connection in this process's pool":
    not failures either, and raised as ``DEPENDENCY_SATURATED``.
    """

    def __init__(
        self,
        name: str,
        *,
        ping: Ping | None = None,
        timeout_s: float = 2.0,
        critical: bool = True,
        fail_max: int = 5,
        reset_timeout_s: float = 10.0,
        exclude: Iterable[type[BaseException]] = (),
        saturated: Iterable[type[BaseException]] = (),
    ) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self.critical = critical
        self._ping = ping
        self._saturated = tuple(saturated)
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout_s,
            name=name,
            exclude=[DomainError, asyncio.CancelledError, *exclude, *self._saturated],
        )

    def __repr__(self) -> str:
        return f"Dependency({self.name!r}, state={self.state!r}, critical={self.critical})"

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"``."""
        return self.breaker.current_state

    def set_ping(self, ping: Ping) -> None:
        self._ping = ping

    @asynccontextmanager
    async def guard(self, timeout_s: float | None = None) -> AsyncIterator[None]:
        """Run the ``async with`` body behind the breaker with a timeout.

        Raises :class:`DependencyUnavailable` when the breaker is open (nothing is
        called), when the body times out, or when it found the connection pool saturated;
        other errors propagate unchanged after being recorded.
        """
        try:
            with self.breaker.calling():
                async with asyncio.timeout(timeout_s or self.timeout_s):
                    yield
        except pybreaker.CircuitBreakerError as exc:
            raise DependencyUnavailable(
                "DEPENDENCY_UNAVAILABLE", f"{self.name} is unavailable"
            ) from exc
        except TimeoutError as exc:
            raise DependencyUnavailable(
                "DEPENDENCY_TIMEOUT", f"{self.name} did not answer in time"
            ) from exc
        except self._saturated as exc:
            raise DependencyUnavailable(
                "DEPENDENCY_SATURATED", f"every connection to {self.name} is busy; retry"
            ) from exc

    async def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``await fn(*args, **kwargs)`` inside :meth:`guard`."""
        async with self.guard():
            return await fn(*args, **kwargs)

    async def probe(self) -> DependencyState:
        """Actively ping through the breaker; never raises."""
        if self._ping is None:
            return DependencyState(self.name, self.critical, self.state != "open", self.state)
        started = time.perf_counter()
        try:
            await self.call(self._ping)
        except Exception as exc:
            return DependencyState(
                self.name,
                self.critical,
                ok=False,
                breaker=self.state,
                error=_describe(exc),
            )
        latency = round((time.perf_counter() - started) * 1000, 2)
        return DependencyState(self.name, self.critical, True, self.state, latency)


def _describe(exc: BaseException) -> str:
    """Short, secret-free error text (no URLs, no stack)."""
    if isinstance(exc, DomainError):
        return exc.code
    return type(exc).__name__


class Dependencies:
    """Registry of a service's dependencies, asked by ``/readyz``."""

    def __init__(self, dependencies: Iterable[Dependency] = ()) -> None:
        self._deps: dict[str, Dependency] = {}
        for dep in dependencies:
            self.add(dep)

    def add(self, dependency: Dependency) -> Dependency:
        if dependency.name in self._deps:
            raise ValueError(f"dependency {dependency.name!r} registered twice")
        self._deps[dependency.name] = dependency
        return dependency

    def __getitem__(self, name: str) -> Dependency:
        return self._deps[name]

    def __iter__(self) -> Iterator[Dependency]:
        return iter(self._deps.values())

    def __len__(self) -> int:
        return len(self._deps)

    async def ready(self) -> Readiness:
        """Probe all dependencies concurrently; ready iff every critical probe succeeded."""
        states = await asyncio.gather(*(dep.probe() for dep in self._deps.values()))
        checks = {state.name: state for state in states}
        return Readiness(all(s.ok for s in states if s.critical), checks)
