"""Live cart updates across replicas: Redis pub/sub fan-out to local subscribers.

Every cart write publishes ``"<cart id> <version>"`` on the namespace's ``updates`` channel
in the same MULTI as the write (:mod:`emporium_cart.carts`). Each replica holds ONE Redis
subscription to that channel (:class:`Live`, a worker) and hands each message to the
subscribers of that cart connected to it; a subscriber then reads the cart and sends it. So
a change made on replica A reaches a subscriber on replica B, and a subscriber only ever
hears of the one cart it was allowed to subscribe to.

Pub/sub is at-most-once: a message published while a replica's subscription reconnects is
lost. A subscriber is therefore sent the whole cart (never a diff) and, after a reconnect,
every local subscriber is woken to re-read its cart, so a missed message costs nothing but
latency.

When the process begins shutting down (``/readyz`` 503), every stream ends within
:data:`DRAIN_CHECK_S` with ``complete``, so clients resubscribe through another replica
instead of being cut off when the server's drain period runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable

import redis.asyncio as redis_asyncio

from emporium_cart.store import Keys

log = logging.getLogger(__name__)

RECONNECT_S = (0.1, 0.5, 1.0, 2.0)
# a subscriber slower than this many pending wake-ups only needs the latest one
QUEUE_SIZE = 16
# how often a waiting stream looks whether the process is shutting down
DRAIN_CHECK_S = 1.0


class Live:
    """``redis_url``: a connection of its own, without the request path's read timeout (a
    subscription waits for messages indefinitely; the health check keeps it honest)."""

    def __init__(self, redis_url: str, keys: Keys) -> None:
        self._redis = redis_asyncio.Redis.from_url(
            redis_url, health_check_interval=15, socket_connect_timeout=2, client_name="cart-live"
        )
        self._channel = keys.updates
        self._listeners: dict[str, set[asyncio.Queue[int]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()  # the replica's subscription is live
        self.draining: Callable[[], bool] = lambda: False  # the app's health says

    async def next_version(self, queue: asyncio.Queue[int]) -> int | None:
        """The next version a stream is woken for, or ``None`` once the process drains."""
        # one get() across the checks: a wake-up arriving during a check is never dropped
        getter = asyncio.ensure_future(queue.get())
        try:
            while not self.draining():
                done, _ = await asyncio.wait({getter}, timeout=DRAIN_CHECK_S)
                if done:
                    return getter.result()
            return None
        finally:
            getter.cancel()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cart-live")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._redis.aclose()

    @contextlib.asynccontextmanager
    async def listen(self, cart_id: str) -> AsyncIterator[asyncio.Queue[int]]:
        """A queue of the versions ``cart_id`` is written at, while the block runs."""
        queue: asyncio.Queue[int] = asyncio.Queue(QUEUE_SIZE)
        self._listeners[cart_id].add(queue)
        try:
            yield queue
        finally:
            listeners = self._listeners.get(cart_id)
            if listeners is not None:
                listeners.discard(queue)
                if not listeners:
                    del self._listeners[cart_id]

    def _deliver(self, cart_id: str, version: int) -> None:
        for queue in list(self._listeners.get(cart_id, ())):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(version)

    async def _run(self) -> None:
        attempt = 0
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                if attempt:  # messages may have been missed: everyone re-reads
                    for cart_id in list(self._listeners):
                        self._deliver(cart_id, 0)
                attempt = 0
                self.subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = message["data"]
                    text = data.decode() if isinstance(data, bytes) else str(data)
                    cart_id, _, version = text.partition(" ")
                    self._deliver(cart_id, int(version or 0))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: resubscribe with backoff
                self.subscribed.clear()
                delay = RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)]
                attempt += 1
                log.warning("cart updates subscription lost; retrying", extra={"error": str(exc)})
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
