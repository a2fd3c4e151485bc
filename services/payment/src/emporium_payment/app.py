"""The payment service app: ``create_app()`` for tests, module-level ``app`` for
``emporium-payment serve``. Its one REST route is the provider's webhook endpoint
(``POST /webhooks/stripe``): HTTP is that contract."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import httpx
import stripe
from emporium_kit import clients
from emporium_kit.app import build_app
from emporium_kit.documents import LeasePruner, document_lock
from emporium_kit.events import ProcessedEvents
from emporium_kit.graphql import build_schema
from emporium_kit.resilience import Dependency
from emporium_kit.workers import ConsumerWorker, OutboxWorker
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from emporium_payment import events, payments, store, webhooks
from emporium_payment.provider import StripeProvider
from emporium_payment.resolvers import bindables, request_context
from emporium_payment.settings import PaymentSettings

log = logging.getLogger(__name__)

# the provider refusing a request is an answer, not an outage: it must not open the breaker
PROVIDER_ANSWERS = (stripe.CardError, stripe.InvalidRequestError, stripe.IdempotencyError)


def webhook_router(service: payments.Payments, settings: PaymentSettings) -> APIRouter:
    router = APIRouter()
    secret = settings.payment_webhook_secret.get_secret_value()

    @router.post("/webhooks/stripe", summary="Stripe webhook deliveries (signed)")
    async def stripe_webhook(request: Request) -> Any:
        payload = await request.body()  # the signature covers the raw bytes
        try:
            event = webhooks.verify(
                payload,
                request.headers.get(webhooks.SIGNATURE_HEADER),
                secret,
                settings.payment_webhook_tolerance_s,
            )
        except webhooks.InvalidWebhookError as exc:
            return JSONResponse({"error": f"invalid webhook: {exc}"}, status_code=400)
        applied = await payments.apply_webhook(service, event)
        return {"received": True, "applied": applied is not None}

    return router


def create_app(settings: PaymentSettings | None = None) -> FastAPI:
    settings = settings or PaymentSettings()
    mongo = clients.mongo(settings)
    bus = clients.nats(settings)

    def wake_outbox(collection: str, ids: Iterable[str]) -> None:
        outbox.notify(collection, ids)

    db = store.PaymentDb.connect(mongo, settings, notify=wake_outbox)
    stripe_dependency = Dependency(
        "stripe",
        timeout_s=settings.stripe_timeout_s,
        critical=False,
        fail_max=settings.breaker_fail_max,
        reset_timeout_s=settings.breaker_reset_timeout_s,
        exclude=PROVIDER_ANSWERS,
    )
    provider = StripeProvider.create(
        api_key=settings.stripe_api_key.get_secret_value(),
        api_base=settings.stripe_api_base,
        timeout_s=settings.stripe_timeout_s,
        dependency=stripe_dependency,
    )
    http = httpx.AsyncClient(timeout=settings.http_timeout_s)
    relay = (
        webhooks.WebhookRelay(
            settings.payment_webhook_relay_url,
            settings.payment_webhook_secret.get_secret_value(),
            http=http,
        )
        if settings.payment_webhook_relay_url
        else None
    )
    service = payments.Payments(db=db, provider=provider, relay=relay)
    outbox = OutboxWorker(
        [mongo.db[name] for name in store.OUTBOX_COLLECTIONS],
        bus=bus,
        catalog=events.events,
        replicas=settings.nats_stream_replicas,
        mongo_guard=mongo.dependency.guard,
        document_lock=document_lock(db.payments),
        poll_interval_s=settings.payment_relay_poll_interval_s,
    )
    consumer = ConsumerWorker(
        settings.payment_consumer_name,
        bus=bus,
        processed=ProcessedEvents(mongo.db[store.PROCESSED_EVENTS], guard=mongo.dependency.guard),
        catalog=events.events,
        handlers=events.handlers(service),
        replicas=settings.nats_stream_replicas,
        deliver=settings.payment_consumer_deliver,
        max_deliver=settings.payment_consumer_max_deliver,
    )

    async def close() -> None:
        if relay is not None:
            await relay.drain()
        await http.aclose()

    app = build_app(
        settings=settings,
        schema=build_schema("emporium_payment", *bindables),
        clients=[mongo, bus],
        dependencies=[stripe_dependency],
        context=request_context(service),
        workers=[outbox, consumer, LeasePruner(db.leases, settings.lease_prune_interval_s)],
        routers=[webhook_router(service, settings)],
        on_shutdown=[close],
    )
    app.state.outbox = outbox
    app.state.consumer = consumer
    app.state.payments = service
    return app


app = create_app()
