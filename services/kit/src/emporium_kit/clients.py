"""Datastore clients, each already wrapped with its :class:`~emporium_kit.resilience.Dependency`.

Factories are plain functions of the settings; clients connect lazily (NATS on
:meth:`NatsStore.start`), so build them in ``create_app()`` and hand them to
:func:`emporium_kit.app.build_app`, whose lifespan starts and closes them::

    mongo = clients.mongo(settings)        # MongoStore: .client, .db, .dependency
    redis = clients.redis(settings)        # RedisStore: .client, .key(*parts), .dependency
    search = clients.opensearch(settings)  # OpenSearchStore: .client, .dependency
    bus = clients.nats(settings)           # NatsStore: .nc, .js after start()

Every call to the store's ``client`` should run inside ``store.dependency.guard()`` (or
``await store.dependency.call(fn, ...)``): that applies the timeout and feeds the breaker
that ``/readyz`` reports. ``ping()`` is the raw probe; the readiness check runs it through
the breaker, so do not wrap it yourself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol, runtime_checkable

import opensearchpy
import orjson
import redis.asyncio as redis_asyncio
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure
from redis.exceptions import ResponseError as RedisResponseError

from emporium_kit.resilience import Dependency
from emporium_kit.settings import ServiceSettings, redact_url

log = logging.getLogger(__name__)


@runtime_checkable
class Client(Protocol):
    """What the app lifespan manages: a dependency plus start/ping/close."""

    dependency: Dependency

    async def start(self) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def _dependency(
    settings: ServiceSettings,
    name: str,
    timeout_s: float,
    *,
    critical: bool,
    exclude: tuple[type[BaseException], ...] = (),
) -> Dependency:
    return Dependency(
        name,
        timeout_s=timeout_s,
        critical=critical,
        fail_max=settings.breaker_fail_max,
        reset_timeout_s=settings.breaker_reset_timeout_s,
        exclude=exclude,
    )


class MongoStore:
    """pymongo ``AsyncMongoClient`` bound to the service's own database (``.db``)."""

    def __init__(self, settings: ServiceSettings, *, critical: bool = True) -> None:
        timeout_ms = int(settings.mongo_timeout_s * 1000)
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.mongo_url,
            appname=settings.service_name,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=timeout_ms,
            tz_aware=True,
        )
        self.db: AsyncDatabase[dict[str, Any]] = self.client[str(settings.mongo_database)]
        # OperationFailure (duplicate key, validation...) is the server answering
        self.dependency = _dependency(
            settings,
            "mongo",
            settings.mongo_timeout_s,
            critical=critical,
            exclude=(OperationFailure,),
        )
        self.dependency.set_ping(self.ping)

    async def start(self) -> None:
        """Nothing to do: the client connects in the background on first use."""

    async def ping(self) -> None:
        await self.db.command("ping")

    async def close(self) -> None:
        await self.client.close()


class RedisStore:
    """``redis.asyncio`` client; :meth:`key` namespaces keys with ``<service>:``."""

    def __init__(self, settings: ServiceSettings, *, critical: bool = True) -> None:
        self.prefix = f"{settings.service_name}:"
        self.client: redis_asyncio.Redis = redis_asyncio.Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_timeout_s,
            socket_connect_timeout=settings.redis_timeout_s,
            health_check_interval=30,
            client_name=settings.service_name,
        )
        # ResponseError (WRONGTYPE, script errors) is the server answering
        self.dependency = _dependency(
            settings,
            "redis",
            settings.redis_timeout_s,
            critical=critical,
            exclude=(RedisResponseError,),
        )
        self.dependency.set_ping(self.ping)

    def key(self, *parts: str | int) -> str:
        """``key("product", 42)`` -> ``"catalog:product:42"``."""
        return self.prefix + ":".join(str(p) for p in parts)

    async def start(self) -> None:
        """Nothing to do: connections are opened from the pool on first use."""

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()


class _OrjsonSerializer(opensearchpy.JSONSerializer):
    """orjson for OpenSearch bodies: search responses with aggregations are large, and orjson
    decodes them several times faster than the standard library."""

    def loads(self, s: str) -> Any:
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError as exc:
            raise opensearchpy.SerializationError(s, exc) from exc

    def dumps(self, data: Any) -> Any:
        if isinstance(data, str | bytes):  # bulk bodies arrive already serialised
            return data
        try:
            return orjson.dumps(data, default=self.default).decode()
        except TypeError as exc:
            raise opensearchpy.SerializationError(data, exc) from exc


class OpenSearchStore:
    """``opensearchpy.AsyncOpenSearch`` with the settings' timeout and no client retries
    (the breaker decides)."""

    def __init__(self, settings: ServiceSettings, *, critical: bool = True) -> None:
        self.client = opensearchpy.AsyncOpenSearch(
            hosts=[settings.opensearch_url],
            timeout=settings.opensearch_timeout_s,
            max_retries=0,
            retry_on_timeout=False,
            serializer=_OrjsonSerializer(),
        )
        self.dependency = _dependency(
            settings,
            "opensearch",
            settings.opensearch_timeout_s,
            critical=critical,
            exclude=(
                opensearchpy.NotFoundError,
                opensearchpy.ConflictError,
                opensearchpy.RequestError,
            ),
        )
        self.dependency.set_ping(self.ping)

    async def start(self) -> None:
        """Nothing to do: the HTTP session opens on first use."""

    async def ping(self) -> None:
        await self.client.cluster.health()

    async def close(self) -> None:
        await self.client.close()


class NatsStore:
    """nats-py connection with endless reconnects, plus its JetStream context.

    :meth:`start` (the lifespan calls it) waits up to ``nats_timeout_s`` for the first
    connection. If NATS is unreachable then, it goes on connecting in the background, so
    the service starts and serves what needs no events; ``.nc`` and ``.js`` raise
    :class:`ConnectionError` until the connection exists, and the event workers retry
    until it does.
    """

    def __init__(self, settings: ServiceSettings, *, critical: bool = True) -> None:
        self._settings = settings
        self._connecting: asyncio.Task[None] | None = None
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self.dependency = _dependency(settings, "nats", settings.nats_timeout_s, critical=critical)
        self.dependency.set_ping(self.ping)

    @property
    def nc(self) -> NatsClient:
        if self._nc is None:
            raise self._not_connected()
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise self._not_connected()
        return self._js

    def _not_connected(self) -> Exception:
        if self._connecting is None:
            return RuntimeError("NatsStore.start() has not run")
        return ConnectionError("NATS is not connected yet")

    async def start(self) -> None:
        if self._connecting is not None:
            return
        client = NatsClient()
        self._connecting = asyncio.create_task(self._connect(client), name="nats-connect")
        await asyncio.wait({self._connecting}, timeout=self._settings.nats_timeout_s)
        if self._connecting.done():
            self._connecting.result()  # a configuration error, not an outage: fail the start
        else:
            log.warning(
                "NATS unreachable at %s; connecting in the background",
                redact_url(self._settings.nats_url),
            )

    async def _connect(self, client: NatsClient) -> None:
        timeout = self._settings.nats_timeout_s
        # with endless reconnects, nats-py retries a failed first connection too
        await client.connect(
            servers=[self._settings.nats_url],
            name=self._settings.service_name,
            connect_timeout=max(1, int(timeout)),
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            ping_interval=10,
            max_outstanding_pings=3,
            drain_timeout=max(1, int(self._settings.shutdown_grace_s)),
        )
        self._nc, self._js = client, client.jetstream(timeout=timeout)

    async def ping(self) -> None:
        if self._nc is None or not self._nc.is_connected:
            raise ConnectionError("NATS is not connected")
        await self._nc.flush(timeout=max(1, int(self._settings.nats_timeout_s)))

    async def close(self) -> None:
        """Drain (flush publishes, finish subscriptions) when connected, else just close."""
        connecting, self._connecting = self._connecting, None
        nc, self._nc, self._js = self._nc, None, None
        if connecting is not None and not connecting.done():
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
            return
        if nc is None or nc.is_closed:
            return
        if nc.is_connected:
            await nc.drain()
        else:
            await nc.close()


def mongo(settings: ServiceSettings, *, critical: bool = True) -> MongoStore:
    return MongoStore(settings, critical=critical)


def redis(settings: ServiceSettings, *, critical: bool = True) -> RedisStore:
    return RedisStore(settings, critical=critical)


def opensearch(settings: ServiceSettings, *, critical: bool = True) -> OpenSearchStore:
    return OpenSearchStore(settings, critical=critical)


def nats(settings: ServiceSettings, *, critical: bool = True) -> NatsStore:
    return NatsStore(settings, critical=critical)
