"""The identity service app: ``create_app()`` for tests, module-level ``app`` for uvicorn.

Run locally with ``emporium-identity serve`` (port 8001) or ``uvicorn emporium_identity.app:app``.

Identity verifies its own access tokens with the kit's ``TokenVerifier`` like every other
service, fed in-process from its key ring (:class:`~emporium_identity.keys.LocalJwksTransport`)
instead of over HTTP from itself; ``EMPORIUM_JWKS_URL`` is therefore ignored here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

import httpx
from emporium_kit import clients
from emporium_kit.app import build_app
from emporium_kit.auth import TokenVerifier
from emporium_kit.documents import LeasePruner, document_lock
from emporium_kit.graphql import build_schema
from emporium_kit.workers import OutboxWorker, PeriodicTask
from fastapi import FastAPI

from emporium_identity import events, sessions
from emporium_identity.browser import SessionCookie, SessionCors, session_router
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


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    mongo = clients.mongo(settings)
    # rate limits, lockouts and OAuth states live in Redis: without it sign-in fails closed
    redis = clients.redis(settings)
    bus = clients.nats(settings)

    def wake_outbox(collection: str, ids: Iterable[str]) -> None:
        outbox.notify(collection, ids)  # a write with events: publish it now, not at a sweep

    db = IdentityDb.connect(mongo, settings, notify=wake_outbox)
    outbox = OutboxWorker(
        [db.users.raw],
        bus=bus,
        catalog=events.identity,
        replicas=settings.nats_stream_replicas,
        mongo_guard=db.guard,
        document_lock=document_lock(db.users),
        poll_interval_s=settings.identity_relay_poll_interval_s,
    )
    identity = Identity.from_settings(settings, db=db, redis=redis)

    async def housekeeping() -> None:
        removed = await sessions.housekeeping(identity=identity)
        if removed:
            log.info("expired records removed", extra={"count": removed})

    # expired sessions, refresh tokens and signing keys
    janitor = PeriodicTask(
        "identity-housekeeping", housekeeping, interval_s=settings.identity_janitor_interval_s
    )
    providers = providers_from_settings(settings)
    states = OAuthStates(
        redis,
        namespace=settings.identity_redis_namespace,
        ttl_s=settings.identity_oauth_state_ttl_s,
    )
    session_cookie = SessionCookie(
        secure=settings.session_cookie_secure, max_age_s=settings.identity_refresh_token_ttl_s
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
        schema=build_schema("emporium_identity", *bindables),
        clients=[mongo, redis, bus],
        dependencies=[p.dependency for p in providers.values()],
        context=request_context(identity),
        on_startup=[partial(ensure_indexes, db=db), identity.keys.ensure_signing_key],
        on_shutdown=[local_jwks.aclose],
        workers=[outbox, janitor, LeasePruner(db.leases, settings.lease_prune_interval_s)],
        routers=[
            jwks_router(
                identity.keys,
                max_age_s=int(min(60.0, settings.identity_key_activation_delay_s)),
            ),
            oauth_router(
                identity,
                providers,
                states,
                cookie=session_cookie,
                return_origins=settings.session_origins,
            ),
            session_router(identity, session_cookie),
        ],
        verifier=verifier,
    )
    app.add_middleware(RetryAfterMiddleware)
    app.add_middleware(SessionCors, origins=settings.session_origins)
    app.state.identity = identity
    app.state.outbox = outbox
    app.state.oauth_providers = providers
    return app


app = create_app()
