"""The cart service app: ``create_app()`` for tests, module-level ``app`` for
``emporium-cart serve``."""

from __future__ import annotations

from collections.abc import Iterable

from emporium_kit import clients
from emporium_kit.app import build_app
from emporium_kit.documents import LeasePruner, document_lock
from emporium_kit.graphql import build_schema
from emporium_kit.workers import OutboxWorker
from fastapi import FastAPI

from emporium_cart import events, store
from emporium_cart.resolvers import Cart, bindables, request_context
from emporium_cart.settings import CartSettings


def create_app(settings: CartSettings | None = None) -> FastAPI:
    settings = settings or CartSettings()
    mongo = clients.mongo(settings)
    bus = clients.nats(settings)

    def wake_outbox(collection: str, ids: Iterable[str]) -> None:
        outbox.notify(
            collection, ids
        )  # a write with events: publish it now, not at a sweep

    db = store.CartDb.connect(mongo, settings, notify=wake_outbox)
    outbox = OutboxWorker(
        [mongo.db[name] for name in store.OUTBOX_COLLECTIONS],
        bus=bus,
        catalog=events.events,
        replicas=settings.nats_stream_replicas,
        mongo_guard=mongo.dependency.guard,
        document_lock=document_lock(db.items),
        poll_interval_s=settings.cart_relay_poll_interval_s,
    )
    app = build_app(
        settings=settings,
        schema=build_schema("emporium_cart", *bindables),
        clients=[mongo, bus],
        context=request_context(Cart(db=db)),
        workers=[outbox, LeasePruner(db.leases, settings.lease_prune_interval_s)],
    )
    app.state.outbox = outbox
    return app


app = create_app()
