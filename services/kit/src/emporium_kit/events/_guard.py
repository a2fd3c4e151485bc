"""Small seams to the rest of the kit, so the event bus does not import it.

A guard is anything returning an async context manager, e.g. ``Dependency("nats").guard``
from ``emporium_kit.resilience`` (breaker + timeout). A JetStream source is the context
itself or a callable returning it, for workers built before the connection exists.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from nats.js import JetStreamContext

Guard = Callable[[], AbstractAsyncContextManager[object]]


@asynccontextmanager
async def _unguarded() -> AsyncIterator[None]:
    yield


def or_unguarded(guard: Guard | None) -> Guard:
    return guard or _unguarded


JetStreamSource = JetStreamContext | Callable[[], JetStreamContext]


def resolve_js(source: JetStreamSource) -> JetStreamContext:
    """Workers are built before the NATS client connects (``lambda: bus.js`` defers it)."""
    return source if isinstance(source, JetStreamContext) else source()
