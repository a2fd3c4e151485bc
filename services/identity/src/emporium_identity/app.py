"""The identity service app: ``create_app()`` for tests, module-level ``app`` for uvicorn.

Run locally with ``emporium-identity serve`` (port 8001) or ``uvicorn emporium_identity.app:app``.

Identity verifies its own access tokens with the kit's ``TokenVerifier`` like every other
service, fed in-process from its key ring (:class:`~emporium_identity.keys.LocalJwksTransport`)
instead of over HTTP from itself; ``EMPORIUM_JWKS_URL`` is therefore ignored here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from functools import partial

import httpx
from ariadne import convert_schema_names
from emporium_kit import clients
from emporium_kit.app import build_app
from emporium_kit.auth import TokenVerifier
from emporium_kit.documents import LeasePruner, document_lock
from emporium_kit.events.outbox import OutboxRelay
from emporium_kit.events.streams import ensure_streams
from emporium_kit.graphql import load_sdl, make_federated_schema
from fastapi import FastAPI
from graphql import GraphQLSchema

from emporium_identity import events, sessions
from emporium_identity.core import Identity
from emporium_identity.http import JWKS_PATH, RetryAfterMiddleware, jwks_router
from emporium_identity.keys import LocalJwksTransport
from emporium_identity.oauth import OAuthStates, oauth_router, providers_from_settings
from emporium_identity.resolvers import bindables, request_context
from emporium_identity.settings import IdentitySettings
from emporium_identity.store import IdentityDb, ensure_indexes

log = logging.getLogger(__name__)

# A name only: the verifier's HTTP client is wired to the key ring, never to the network.
_LOCAL_JWKS_URL = f"http://identity.local{JWKS_PATH}"


def build_schema() -> GraphQLSchema:
    schema = make_federated_schema(load_sdl("emporium_identity"), *bindables)
    # resolvers and inputs speak snake_case (argument `userId` arrives as `user_id`)
    convert_schema_names(schema, None)
    return schema


class _Relay:
    """The outbox relay of the ``users`` collection; it starts once NATS is connected and
    the identity stream exists."""

    def __init__(self, settings: IdentitySettings, db: IdentityDb, bus: clients.NatsStore):
        self._bus = bus
        self.relay = OutboxRelay(
            [db.users.raw],
            lambda: bus.js,  # resolved at start: the connection does not exist yet
            poll_interval_s=settings.identity_relay_poll_interval_s,
            nats_guard=bus.dependency.guard,
            mongo_guard=db.guard,
            document_lock=document_lock(db.users),
        )

    async def start(self) -> None:
        async with self._bus.dependency.guard():
            await ensure_streams(self._bus.js, events.identity.domains)
        await self.relay.start()

    async def stop(self) -> None:
        await self.relay.stop()

    def notify(self, collection: str, ids: Iterable[str]) -> None:
        self.relay.notify(collection, ids)


class _Janitor:
    """Deletes expired sessions, refresh tokens and signing keys every interval."""

    def __init__(self, identity: Identity, interval_s: float) -> None:
        self._identity = identity
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="identity-janitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                removed = await sessions.housekeeping(identity=self._identity)
                if removed:
                    log.info("expired records removed", extra={"count": removed})
            except Exception:
                log.exception("housekeeping failed; retrying next interval")


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    mongo = clients.mongo(settings)
    # rate limits, lockouts and OAuth states live in Redis: without it sign-in fails closed
    redis = clients.redis(settings)
    bus = clients.nats(settings)

    def wake_relay(collection: str, ids: Iterable[str]) -> None:
        relay.notify(collection, ids)  # a write with events: publish it now, not at a sweep

    db = IdentityDb.connect(mongo, settings, notify=wake_relay)
    relay = _Relay(settings, db, bus)
    identity = Identity.from_settings(settings, db=db, redis=redis)
    providers = providers_from_settings(settings)
    states = OAuthStates(
        redis,
        namespace=settings.identity_redis_namespace,
        ttl_s=settings.identity_oauth_state_ttl_s,
    )
    local_jwks = httpx.AsyncClient(transport=LocalJwksTransport(identity.keys))
    verifier = TokenVerifier(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        jwks_url=_LOCAL_JWKS_URL,
        http=local_jwks,
        leeway_s=settings.jwt_leeway_s,
        # an in-process fetch: an unknown kid costs at most one Mongo read a second
        refetch_min_interval_s=0.0,
        jwks_max_age_s=settings.identity_key_cache_s,
    )
    app = build_app(
        settings=settings,
        schema=build_schema(),
        clients=[mongo, redis, bus],
        dependencies=[p.dependency for p in providers.values()],
        context=request_context(identity),
        on_startup=[partial(ensure_indexes, db=db), identity.keys.ensure_signing_key],
        on_shutdown=[local_jwks.aclose],
        workers=[
            relay,
            _Janitor(identity, settings.identity_janitor_interval_s),
            LeasePruner(db.leases, settings.lease_prune_interval_s),
        ],
        routers=[
            jwks_router(
                identity.keys,
                max_age_s=int(min(60.0, settings.identity_key_activation_delay_s)),
            ),
            oauth_router(identity, providers, states),
        ],
        verifier=verifier,
    )
    app.add_middleware(RetryAfterMiddleware)
    app.state.identity = identity
    app.state.relay = relay
    app.state.oauth_providers = providers
    return app


app = create_app()
