"""Clients and readiness against the real local platform (Redis, FerretDB, NATS, OpenSearch)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from emporium_kit import clients
from emporium_kit.app import build_app
from emporium_kit.resilience import DependencyUnavailable
from emporium_kit.telemetry import setup_tracing
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pymongo.errors import DuplicateKeyError

from .conftest import KitTestSettings

pytestmark = pytest.mark.integration


def platform_settings(platform: Any, **overrides: Any) -> KitTestSettings:
    values: dict[str, Any] = {
        "mongo_url": platform.mongo_url,
        "redis_url": platform.redis_url,
        "nats_url": platform.nats_url,
        "opensearch_url": platform.opensearch_url,
        "mongo_database": "kittest_integration",
        "breaker_fail_max": 2,
        "breaker_reset_timeout_s": 0.5,
        "redis_timeout_s": 0.5,
    }
    values.update(overrides)
    return KitTestSettings(_env_file=None, **values)


async def wait_for(
    condition: Callable[[], Awaitable[bool]], *, timeout_s: float, what: str
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what}")


async def test_stores_talk_to_the_real_components(platform: Any) -> None:
    settings = platform_settings(platform)
    mongo, redis = clients.mongo(settings), clients.redis(settings)
    search, bus = clients.opensearch(settings), clients.nats(settings)
    try:
        for store in (mongo, redis, search, bus):
            await store.start()
            await store.ping()

        collection = mongo.db["kit_things"]
        await collection.drop()
        await collection.create_index("sku", unique=True)
        await mongo.dependency.call(collection.insert_one, {"sku": "A"})
        # a duplicate key is the server answering: raised as is, not a breaker failure
        for _ in range(settings.breaker_fail_max + 1):
            with pytest.raises(DuplicateKeyError):
                await mongo.dependency.call(collection.insert_one, {"sku": "A"})
        assert mongo.dependency.state == "closed"
        assert mongo.db.name == "kittest_integration"

        key = redis.key("product", 42)
        assert key == "kittest:product:42"
        await redis.dependency.call(redis.client.set, key, b"v", ex=30)
        assert await redis.client.get(key) == b"v"
        await redis.client.delete(key)

        assert bus.nc.is_connected
        account = await bus.js.account_info()
        assert account.limits is not None
    finally:
        await mongo.db["kit_things"].drop()
        for store in (mongo, redis, search, bus):
            await store.close()


async def test_readiness_turns_false_while_redis_is_down_and_recovers(
    platform: Any, run_app: Any
) -> None:
    settings = platform_settings(platform)
    redis = clients.redis(settings)
    app = build_app(settings=settings, clients=[clients.mongo(settings), redis])

    async with run_app(app) as client:

        async def status() -> tuple[int, dict[str, Any]]:
            response = await client.get("/readyz")
            return response.status_code, response.json()

        async def ready() -> bool:
            return (await status())[0] == 200

        await wait_for(ready, timeout_s=20, what="initial readiness")
        try:
            await asyncio.to_thread(platform.stop, "redis")

            async def redis_unready() -> bool:
                code, body = await status()
                return code == 503 and body["checks"]["redis"]["ok"] is False

            await wait_for(redis_unready, timeout_s=15, what="readiness to fail without Redis")
            _code, body = await status()
            assert body["checks"]["mongo"]["ok"] is True, "only the failed dependency is blamed"

            # with the breaker open, calls fail fast instead of waiting for timeouts
            await wait_for(_breaker_open(redis), timeout_s=10, what="the Redis breaker to open")
            started = time.perf_counter()
            with pytest.raises(DependencyUnavailable):
                await redis.dependency.call(redis.client.get, redis.key("x"))
            assert time.perf_counter() - started < 0.1
        finally:
            await asyncio.to_thread(platform.start, "redis")

        await wait_for(ready, timeout_s=30, what="readiness to return with Redis")
        _code, body = await status()
        assert body["checks"]["redis"]["breaker"] == "closed"
        await redis.dependency.call(redis.client.set, redis.key("back"), b"1", ex=5)


def _breaker_open(store: clients.RedisStore) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return store.dependency.state == "open"

    return check


async def test_async_mongo_and_redis_calls_are_traced(platform: Any) -> None:
    """The pymongo instrumentor's command listener also sees ``AsyncMongoClient`` commands."""
    settings = platform_settings(platform)
    provider = setup_tracing(settings)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    mongo, redis = clients.mongo(settings), clients.redis(settings)
    try:
        with provider.get_tracer("test").start_as_current_span("request") as parent:
            await mongo.db["kit_traced"].find_one({"_id": "nothing"})
            await redis.client.get(redis.key("traced"))
        trace_id = parent.get_span_context().trace_id
        children = [
            span
            for span in exporter.get_finished_spans()
            if span.context.trace_id == trace_id and span.parent is not None
        ]
        names = {span.name for span in children}
        assert "kittest_integration.find" in names
        assert "GET" in names
        assert all(span.parent.span_id == parent.get_span_context().span_id for span in children)
    finally:
        exporter.shutdown()
        await mongo.close()
        await redis.close()
