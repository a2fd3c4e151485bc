"""``build_app``: lifespan order, GraphQL context and auth, health, metrics, shutdown."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import pytest
import uvicorn
from emporium_kit.app import _GracefulServer, build_app
from emporium_kit.health import Health
from emporium_kit.resilience import Dependencies, Dependency
from emporium_kit.testing import TokenMinter
from fastapi import APIRouter
from graphql import GraphQLSchema

from .conftest import KitTestSettings, TenantContext

pytestmark = pytest.mark.unit


class FakeClient:
    """Implements the ``Client`` protocol; its health is flipped by the test."""

    def __init__(self, name: str, journal: list[str]) -> None:
        self.name = name
        self.up = True
        self.journal = journal
        self.dependency = Dependency(name, ping=self.ping, timeout_s=0.5, fail_max=50)

    async def start(self) -> None:
        self.journal.append(f"start {self.name}")

    async def ping(self) -> None:
        if not self.up:
            raise ConnectionError(self.name)

    async def close(self) -> None:
        self.journal.append(f"close {self.name}")


class FakeWorker:
    def __init__(self, name: str, journal: list[str]) -> None:
        self.name = name
        self.journal = journal

    async def start(self) -> None:
        self.journal.append(f"start {self.name}")

    async def stop(self) -> None:
        self.journal.append(f"stop {self.name}")


def settings(**overrides: Any) -> KitTestSettings:
    return KitTestSettings(_env_file=None, **overrides)


async def test_lifespan_starts_and_stops_in_order(schema: GraphQLSchema, run_app: Any) -> None:
    journal: list[str] = []

    async def on_startup() -> None:
        journal.append("startup hook")

    async def on_shutdown() -> None:
        journal.append("shutdown hook")

    app = build_app(
        settings=settings(),
        schema=schema,
        clients=[FakeClient("db", journal), FakeClient("cache", journal)],
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        workers=[FakeWorker("relay", journal), FakeWorker("consumer", journal)],
    )
    async with run_app(app):
        assert journal == [
            "start db",
            "start cache",
            "startup hook",
            "start relay",
            "start consumer",
        ]
        journal.clear()
    assert journal == ["stop consumer", "stop relay", "shutdown hook", "close cache", "close db"]
    assert app.state.health.shutting_down


async def test_failed_startup_closes_what_was_started(run_app: Any) -> None:
    journal: list[str] = []

    class Broken(FakeWorker):
        async def start(self) -> None:
            raise RuntimeError("cannot start")

    app = build_app(
        settings=settings(),
        clients=[FakeClient("db", journal)],
        workers=[FakeWorker("relay", journal), Broken("broken", journal)],
    )
    with pytest.raises(RuntimeError, match="cannot start"):
        async with run_app(app):
            pass
    assert journal == ["start db", "start relay", "stop relay", "close db"]


async def test_readyz_follows_dependencies_and_shutdown(run_app: Any) -> None:
    journal: list[str] = []
    db = FakeClient("db", journal)
    optional = Dependency("recommendations", ping=FakeClient("r", journal).ping, critical=False)
    app = build_app(settings=settings(), clients=[db], dependencies=[optional])
    async with run_app(app) as client:
        assert (await client.get("/livez")).json() == {"status": "alive"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        assert set(ready.json()["checks"]) == {"db", "recommendations"}

        db.up = False
        down = await client.get("/readyz")
        assert down.status_code == 503
        assert down.json()["checks"]["db"]["ok"] is False
        assert (await client.get("/livez")).status_code == 200, "liveness ignores dependencies"

        metrics = (await client.get("/metrics")).text
        assert 'emporium_dependency_up{dependency="db"} 0.0' in metrics

        db.up = True
        assert (await client.get("/readyz")).status_code == 200

        app.state.health.begin_shutdown()
        draining = await client.get("/readyz")
        assert draining.status_code == 503
        assert draining.json()["status"] == "shutting_down"


async def test_graphql_context_and_auth(schema: GraphQLSchema, run_app: Any) -> None:
    minter = TokenMinter()
    app = build_app(
        settings=settings(),
        schema=schema,
        verifier=minter.verifier(),
        context=lambda request: TenantContext(request.headers.get("x-tenant", "none")),
    )
    async with run_app(app) as client:

        async def ask(query: str, token: str | None = None, **headers: str) -> Any:
            if token:
                headers["authorization"] = f"Bearer {token}"
            response = await client.post("/graphql", json={"query": query}, headers=headers)
            return response.json()

        assert (await ask("{ fromContext }", **{"x-tenant": "t1"})) == {
            "data": {"fromContext": "t1"}
        }
        anonymous_response = await client.post("/graphql", json={"query": "{ whoami }"})
        assert anonymous_response.status_code == 200, "an executed operation answers 200"
        anonymous = anonymous_response.json()
        assert anonymous["data"] is None
        assert anonymous["errors"][0]["extensions"]["code"] == "AUTHENTICATION_REQUIRED"
        customer = minter.mint("u-1", ["customer"])
        assert (await ask("{ whoami }", customer)) == {"data": {"whoami": "u-1"}}
        forbidden = await ask("{ sellerOnly }", customer)
        assert forbidden["errors"][0]["extensions"]["kind"] == "FORBIDDEN"
        seller = minter.mint("u-2", ["seller"], seller_id="s-7")
        assert (await ask("{ sellerOnly }", seller)) == {"data": {"sellerOnly": "s-7"}}
        expired = minter.mint("u-1", ["customer"], ttl=-120)
        rejected = await ask("{ whoami }", expired)
        assert rejected["errors"][0]["extensions"]["code"] == "TOKEN_EXPIRED"
        public = await ask('{ product(id: "1") { id } }', expired)
        assert public == {"data": {"product": {"id": "1"}}}, "public fields ignore the token"


async def test_extra_routers_and_metrics(run_app: Any) -> None:
    router = APIRouter()

    @router.get("/products/{product_id}")
    async def plain(product_id: str) -> dict[str, str]:
        return {"id": product_id}

    app = build_app(settings=settings(), routers=[router])
    async with run_app(app) as client:
        assert (await client.get("/products/9")).json() == {"id": "9"}
        metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'handler="/products/{product_id}"' in metrics.text
    assert "emporium_http_request" in metrics.text


class _StopRecorder(uvicorn.Server):
    """Sits under the graceful server in the MRO and notes when uvicorn is told to stop."""

    stopped: asyncio.Event

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.stopped.set()
        super().handle_exit(sig, frame)


class _RecordingServer(_GracefulServer, _StopRecorder):
    pass


async def test_sigterm_fails_readiness_first_then_stops() -> None:
    health = Health(Dependencies())
    server = _RecordingServer(uvicorn.Config(app=None), health, grace_s=0.3)
    server.stopped = asyncio.Event()
    server._loop = asyncio.get_running_loop()
    started = time.monotonic()
    server.handle_exit(signal.SIGTERM, None)
    assert health.shutting_down
    assert not server.should_exit, "requests are still served during the grace period"
    await asyncio.wait_for(server.stopped.wait(), timeout=5)
    assert server.should_exit
    assert time.monotonic() - started >= 0.25


async def test_without_a_grace_period_sigterm_stops_at_once_and_fails_readiness() -> None:
    """Behind a preStop hook (the chart) the grace period is 0: drain right away."""
    health = Health(Dependencies())
    server = _RecordingServer(uvicorn.Config(app=None), health, grace_s=0)
    server.stopped = asyncio.Event()
    server._loop = asyncio.get_running_loop()
    server.handle_exit(signal.SIGTERM, None)
    assert health.shutting_down
    assert server.should_exit
    assert server.stopped.is_set()
