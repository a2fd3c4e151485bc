"""The notification service app: ``create_app()`` for tests, module-level ``app`` for
``emporium-notification serve``."""

from __future__ import annotations

from collections.abc import Iterable

from emporium_kit import clients
from emporium_kit.app import build_app
from emporium_kit.documents import LeasePruner, document_lock
from emporium_kit.events import ProcessedEvents
from emporium_kit.graphql import build_schema
from emporium_kit.workers import ConsumerWorker, OutboxWorker
from fastapi import FastAPI

from emporium_notification import events, store
from emporium_notification.emails import Mailer, Renderer
from emporium_notification.notifications import Notifier
from emporium_notification.resolvers import bindables, request_context
from emporium_notification.settings import NotificationSettings


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    settings = settings or NotificationSettings()
    mongo = clients.mongo(settings)
    bus = clients.nats(settings)

    def wake_outbox(collection: str, ids: Iterable[str]) -> None:
        outbox.notify(collection, ids)

    db = store.NotificationDb.connect(mongo, settings, notify=wake_outbox)
    mailer = Mailer(
        settings.smtp_url,
        sender=settings.notification_from_address,
        timeout_s=settings.smtp_timeout_s,
        attempts=settings.notification_send_attempts,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
    )
    notifier = Notifier(
        db=db,
        mailer=mailer,
        renderer=Renderer(),
        storefront_url=settings.notification_storefront_url,
    )
    outbox = OutboxWorker(
        [mongo.db[name] for name in store.OUTBOX_COLLECTIONS],
        bus=bus,
        catalog=events.events,
        replicas=settings.nats_stream_replicas,
        mongo_guard=mongo.dependency.guard,
        document_lock=document_lock(db.notifications),
        poll_interval_s=settings.notification_relay_poll_interval_s,
    )
    consumer = ConsumerWorker(
        settings.notification_consumer_name,
        bus=bus,
        processed=ProcessedEvents(mongo.db[store.PROCESSED_EVENTS], guard=mongo.dependency.guard),
        catalog=events.events,
        handlers=events.handlers(notifier),
        replicas=settings.nats_stream_replicas,
        deliver=settings.notification_consumer_deliver,
        max_deliver=settings.notification_consumer_max_deliver,
        # each delivery may retry SMTP with backoff for a while
        ack_wait_s=120.0,
    )
    app = build_app(
        settings=settings,
        schema=build_schema("emporium_notification", *bindables),
        clients=[mongo, bus],
        context=request_context(db),
        workers=[outbox, consumer, LeasePruner(db.leases, settings.lease_prune_interval_s)],
    )
    app.state.outbox = outbox
    app.state.consumer = consumer
    app.state.notifier = notifier
    return app


app = create_app()
