"""The order service app: ``create_app()`` for tests, module-level ``app`` for
``emporium-order serve``."""

from __future__ import annotations

from collections.abc import Iterable

import httpx
from emporium_kit import clients
from emporium_kit.app import build_app
from emporium_kit.documents import LeasePruner, document_lock
from emporium_kit.events import ProcessedEvents
from emporium_kit.graphql import build_schema
from emporium_kit.resilience import Dependency
from emporium_kit.workers import ConsumerWorker, OutboxWorker, PeriodicTask
from fastapi import FastAPI

from emporium_order import events, orders, store
from emporium_order.cart import CartService
from emporium_order.models import OrderStatus
from emporium_order.resolvers import Order, bindables, request_context
from emporium_order.settings import OrderSettings


def create_app(settings: OrderSettings | None = None) -> FastAPI:
    settings = settings or OrderSettings()
    mongo = clients.mongo(settings)
    bus = clients.nats(settings)

    def wake_outbox(collection: str, ids: Iterable[str]) -> None:
        outbox.notify(collection, ids)

    payment_s = settings.order_payment_timeout_s
    deadlines = {
        OrderStatus.PENDING.value: payment_s,
        OrderStatus.AWAITING_PAYMENT.value: payment_s,
        OrderStatus.AUTHORISED.value: settings.order_reservation_timeout_s,
        OrderStatus.RESERVED.value: settings.order_capture_timeout_s,
    }
    db = store.OrderDb.connect(mongo, settings, notify=wake_outbox)
    db.deadlines = deadlines
    http = httpx.AsyncClient(timeout=settings.http_timeout_s)
    cart_dependency = Dependency(
        "cart",
        timeout_s=settings.http_timeout_s,
        critical=False,
        fail_max=settings.breaker_fail_max,
        reset_timeout_s=settings.breaker_reset_timeout_s,
    )
    cart = CartService(settings.order_cart_url, http=http, dependency=cart_dependency)
    outbox = OutboxWorker(
        [mongo.db[name] for name in store.OUTBOX_COLLECTIONS],
        bus=bus,
        catalog=events.events,
        replicas=settings.nats_stream_replicas,
        mongo_guard=mongo.dependency.guard,
        document_lock=document_lock(db.orders),
        poll_interval_s=settings.order_relay_poll_interval_s,
    )
    # the saga: each payment or inventory event moves one order (events.HANDLERS)
    consumer = ConsumerWorker(
        settings.order_consumer_name,
        bus=bus,
        processed=ProcessedEvents(mongo.db[store.PROCESSED_EVENTS], guard=mongo.dependency.guard),
        catalog=events.events,
        handlers=events.handlers(db),
        replicas=settings.nats_stream_replicas,
        deliver=settings.order_consumer_deliver,
        max_deliver=settings.order_consumer_max_deliver,
    )

    async def sweep() -> None:
        await orders.sweep(db=db)

    async def close_http() -> None:
        await http.aclose()

    app = build_app(
        settings=settings,
        schema=build_schema("emporium_order", *bindables),
        clients=[mongo, bus],
        dependencies=[cart_dependency],
        context=request_context(Order(db=db, cart=cart)),
        workers=[
            outbox,
            consumer,
            PeriodicTask(
                "order-deadline-sweeper", sweep, interval_s=settings.order_sweep_interval_s
            ),
            LeasePruner(db.leases, settings.lease_prune_interval_s),
        ],
        on_shutdown=[close_http],
    )
    app.state.outbox = outbox
    app.state.consumer = consumer
    app.state.db = db
    return app


app = create_app()
