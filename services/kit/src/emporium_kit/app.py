"""``build_app``: one FastAPI app per service with everything but the domain.

::

    def create_app(settings: CatalogSettings | None = None) -> FastAPI:
        settings = settings or CatalogSettings()
        mongo, redis = clients.mongo(settings), clients.redis(settings)
        db = CatalogDb.connect(mongo, settings)
        return build_app(
            settings=settings,
            schema=build_schema("emporium_catalog", *bindables),
            clients=[mongo, redis],
            context=request_context(Catalog(db=db, cache=cache, cursors=cursors)),
            on_startup=[partial(ensure_indexes, db=db)],
            workers=[outbox],
        )

What it wires:

- JSON logging and tracing (:mod:`emporium_kit.logging`, :mod:`emporium_kit.telemetry`);
- ``/graphql`` (:func:`emporium_kit.graphql.graphql_app`) whose context holds the request,
  the settings, the caller (the bearer token is verified once per request when present; read
  it with :func:`emporium_kit.auth.principal_from`) and what ``context(request)`` returns: the
  service's :class:`~emporium_kit.context.RequestContext` with its stores and fresh
  per-request loaders, read by resolvers with ``CatalogContext.of(info)``. ``context`` may be
  async;
- ``/livez``, ``/readyz`` (every client's dependency plus ``dependencies``), ``/metrics``;
- lifespan: start clients -> prefetch JWKS -> ``on_startup`` hooks -> start ``workers``
  (objects with ``async start()`` / ``async stop()``: :mod:`emporium_kit.workers`) -> freeze
  the startup heap for the garbage collector; on exit in reverse: readiness 503 -> stop
  workers -> ``on_shutdown`` hooks -> close clients.

:func:`serve` is how every service runs, locally, in tests and in its image (each service's
``emporium-<name> serve``): uvicorn (uvloop + httptools) on ``settings.host:settings.port``
with graceful shutdown. On SIGTERM ``/readyz`` answers 503 at once while requests are still
served for ``settings.shutdown_grace_s`` (so load balancers drop the instance), then uvicorn
stops accepting, waits up to ``settings.shutdown_drain_s`` for in-flight requests and runs the
lifespan exit.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any, Protocol

import uvicorn
from fastapi import APIRouter, FastAPI
from graphql import GraphQLSchema
from opentelemetry.sdk.trace import TracerProvider
from starlette.requests import Request

from emporium_kit.auth import AUTH_ERROR_KEY, PRINCIPAL_KEY, TokenVerifier, authenticate
from emporium_kit.clients import Client
from emporium_kit.context import REQUEST_KEY, SERVICE_KEY, SETTINGS_KEY, RequestContext
from emporium_kit.graphql import graphql_app
from emporium_kit.health import Health
from emporium_kit.logging import configure_logging
from emporium_kit.metrics import instrument_metrics
from emporium_kit.resilience import Dependencies, Dependency
from emporium_kit.settings import ServiceSettings
from emporium_kit.telemetry import instrument_app, setup_tracing, shutdown_tracing

log = logging.getLogger(__name__)

ContextFactory = Callable[[Request], RequestContext | Awaitable[RequestContext]]
Hook = Callable[[], Awaitable[Any]]


class Worker(Protocol):
    """A background component run for the app's lifetime (:mod:`emporium_kit.workers`)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def build_app(
    *,
    settings: ServiceSettings,
    schema: GraphQLSchema | None = None,
    clients: Sequence[Client] = (),
    dependencies: Iterable[Dependency] = (),
    context: ContextFactory | None = None,
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    workers: Sequence[Worker] = (),
    routers: Sequence[APIRouter] = (),
    verifier: TokenVerifier | None = None,
    subscriptions: bool = False,
) -> FastAPI:
    """Build the service app; see the module doc. ``verifier`` defaults to
    :meth:`TokenVerifier.from_settings` (``None`` when no key source is configured).
    ``subscriptions``: serve the schema's subscriptions on ``/graphql`` over server-sent
    events (:class:`emporium_kit.graphql.SubscriptionGraphQLHandler`)."""
    configure_logging(settings)
    provider = setup_tracing(settings)
    registry = Dependencies([c.dependency for c in clients])
    for dep in dependencies:
        registry.add(dep)
    health = Health(registry)
    token_verifier = verifier if verifier is not None else TokenVerifier.from_settings(settings)

    lifecycle = _Lifecycle(
        settings=settings,
        health=health,
        clients=clients,
        verifier=token_verifier,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        workers=workers,
        provider=provider,
    )
    app = FastAPI(
        title=f"emporium-{settings.service_name}",
        lifespan=lifecycle.lifespan,
        docs_url=None if settings.is_production else "/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.health = health
    app.state.dependencies = registry
    app.state.clients = list(clients)
    app.state.verifier = token_verifier

    if schema is not None:
        gql = graphql_app(
            schema,
            context_value=_context_factory(settings, token_verifier, context),
            production=settings.is_production,
            max_depth=settings.graphql_max_depth,
            max_query_chars=settings.graphql_max_query_chars,
            document_cache_size=settings.graphql_document_cache_size,
            subscriptions=subscriptions,
        )
        app.state.graphql = gql
        app.add_route("/graphql", gql.handle_request, methods=["GET", "POST", "OPTIONS"])
    app.include_router(health.router)
    for router in routers:
        app.include_router(router)
    instrument_metrics(app)
    instrument_app(app, provider)
    return app


def _context_factory(
    settings: ServiceSettings, verifier: TokenVerifier | None, context: ContextFactory | None
) -> Callable[[Request, Any], Awaitable[dict[str, Any]]]:
    async def context_value(request: Request, _data: Any) -> dict[str, Any]:
        principal, auth_error = await authenticate(verifier, request.headers.get("authorization"))
        ctx: dict[str, Any] = {
            REQUEST_KEY: request,
            SETTINGS_KEY: settings,
            PRINCIPAL_KEY: principal,
            AUTH_ERROR_KEY: auth_error,
        }
        if context is not None:
            service = context(request)
            if inspect.isawaitable(service):
                service = await service
            if not isinstance(service, RequestContext):
                raise TypeError(
                    f"context() returned {type(service).__name__}, not a RequestContext"
                )
            ctx[SERVICE_KEY] = service
        return ctx

    return context_value


@dataclass(frozen=True, slots=True)
class _Lifecycle:
    settings: ServiceSettings
    health: Health
    clients: Sequence[Client]
    verifier: TokenVerifier | None
    on_startup: Sequence[Hook]
    on_shutdown: Sequence[Hook]
    workers: Sequence[Worker]
    provider: TracerProvider

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        started_clients: list[Client] = []
        started_workers: list[Worker] = []
        try:
            for client in self.clients:
                await client.start()
                started_clients.append(client)
            if self.verifier is not None:
                await self.verifier.start()
            for hook in self.on_startup:
                await hook()
            for worker in self.workers:
                await worker.start()
                started_workers.append(worker)
            log.info("service started", extra={"environment": self.settings.environment})
            _settle_garbage_collector()
            yield
        finally:
            # readiness fails first so no new traffic arrives while the rest winds down
            self.health.begin_shutdown()
            for worker in reversed(started_workers):
                await _quietly(worker.stop(), "worker stop")
            for hook in self.on_shutdown:
                await _quietly(hook(), "shutdown hook")
            if self.verifier is not None:
                await _quietly(self.verifier.close(), "verifier close")
            for client in reversed(started_clients):
                await _quietly(client.close(), "client close")
            shutdown_tracing(self.provider)
            log.info("service stopped")


# Young-generation threshold: CPython's 700 runs a collection every few hundred container
# allocations, i.e. several times per GraphQL response with hundreds of objects.
GC_GEN0_THRESHOLD = 5000


def _settle_garbage_collector() -> None:
    """Keep full collections off the request path once the service is up.

    A started service holds a few hundred thousand long-lived objects (schema, pydantic
    models, clients, telemetry); every full collection walked them all, an 80 ms pause
    that set the p99 of a busy service. Freezing them after startup leaves collections
    only the objects created since, and a larger young generation makes them rarer.
    """
    gc.collect()
    gc.freeze()
    _, *older = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, *older)


async def _quietly(awaitable: Awaitable[Any], what: str) -> None:
    """Shutdown steps must all run: log a failure and go on."""
    try:
        await awaitable
    except Exception:
        log.exception("%s failed", what)


class _GracefulServer(uvicorn.Server):
    """SIGTERM/SIGINT: readiness 503 now, stop after the grace period (a second signal, or no
    grace period, stops at once)."""

    def __init__(self, config: uvicorn.Config, health: Health, grace_s: float) -> None:
        super().__init__(config)
        self._health = health
        self._grace_s = grace_s
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._health.shutting_down or self._loop is None or self._grace_s <= 0:
            self._health.begin_shutdown()
            super().handle_exit(sig, frame)
            return
        self._health.begin_shutdown()
        log.info("shutdown requested; draining", extra={"grace_s": self._grace_s})
        self._loop.call_soon_threadsafe(
            self._loop.call_later, self._grace_s, super().handle_exit, sig, frame
        )


def serve(app: FastAPI, *, host: str | None = None, port: int | None = None) -> None:
    """Run ``app`` under uvicorn with the graceful shutdown above; ``host`` and ``port``
    default to the app's settings (``EMPORIUM_HOST``, ``EMPORIUM_PORT``)."""
    settings: ServiceSettings = app.state.settings
    config = uvicorn.Config(
        app,
        host=host or settings.host,
        port=port or settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=settings.access_log,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        # uvicorn annotates an int but hands it to asyncio.wait_for, which takes seconds as float
        timeout_graceful_shutdown=settings.shutdown_drain_s,  # type: ignore[arg-type]
        timeout_keep_alive=settings.http_keep_alive_s,
    )
    server = _GracefulServer(config, app.state.health, settings.shutdown_grace_s)
    server.run()
