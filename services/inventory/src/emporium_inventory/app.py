"""The inventory service app: ``create_app()`` for tests, module-level ``app`` for
``emporium-inventory serve``."""

from __future__ import annotations

from collections.abc import Iterable

from emporium_kit import clients
from emporium_kit.app import build_app
from emporium_kit.documents import LeasePruner, document_lock
from emporium_kit.events import ProcessedEvents
from emporium_kit.graphql import build_schema
from emporium_kit.workers import ConsumerWorker, OutboxWorker, PeriodicTask
from fastapi import FastAPI

from emporium_inventory import events, stock, store
from emporium_inventory.resolvers import Inventory, bindables, request_context
from emporium_inventory.settings import InventorySettings


def create_app(settings: InventorySettings | None = None) -> FastAPI:
    settings = settings or InventorySettings()
    mongo = clients.mongo(settings)
    bus = clients.nats(settings)

    def wake_outbox(collection: str, ids: Iterable[str]) -> None:
        outbox.notify(collection, ids)  # a write with events: publish it now, not at a sweep

    db = store.InventoryDb.connect(mongo, settings, notify=wake_outbox)
    outbox = OutboxWorker(
        [mongo.db[name] for name in store.OUTBOX_COLLECTIONS],
        bus=bus,
        catalog=events.events,
        replicas=settings.nats_stream_replicas,
        mongo_guard=mongo.dependency.guard,
        document_lock=document_lock(db.stock, db.reservations),
        poll_interval_s=settings.inventory_relay_poll_interval_s,
    )
    # the saga's steps and the catalog's SKUs: each event to one use case (events.handlers)
    consumer = ConsumerWorker(
        settings.inventory_consumer_name,
        bus=bus,
        processed=ProcessedEvents(mongo.db[store.PROCESSED_EVENTS], guard=mongo.dependency.guard),
        catalog=events.events,
        handlers=events.handlers(
            db, hold_ttl_s=settings.inventory_hold_ttl_s, demo_stock=settings.inventory_demo_stock
        ),
        replicas=settings.nats_stream_replicas,
        deliver=settings.inventory_consumer_deliver,
        max_deliver=settings.inventory_consumer_max_deliver,
    )

    async def sweep() -> None:
        await stock.sweep(db=db, pending_timeout_s=settings.inventory_pending_timeout_s)

    sweeper = PeriodicTask(
        "inventory-reservation-sweeper", sweep, interval_s=settings.inventory_sweep_interval_s
    )
    app = build_app(
        settings=settings,
        schema=build_schema("emporium_inventory", *bindables),
        clients=[mongo, bus],
        context=request_context(Inventory(db=db)),
        workers=[
            outbox,
            consumer,
            sweeper,
            LeasePruner(db.leases, settings.lease_prune_interval_s),
        ],
    )
    app.state.outbox = outbox
    app.state.consumer = consumer
    app.state.db = db
    return app


app = create_app()
