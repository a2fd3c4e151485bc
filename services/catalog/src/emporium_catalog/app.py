"""The catalog service app: ``create_app()`` for tests, module-level ``app`` for uvicorn.

Run locally with ``emporium-catalog serve`` (port 8002) or ``uvicorn emporium_catalog.app:app``.
"""

from __future__ import annotations

from functools import partial

from ariadne import convert_schema_names
from emporium_catalog import events, service
from emporium_catalog.cache import ProductCache
from emporium_catalog.relay import writers_lock
from emporium_catalog.resolvers import CatalogContext, bindables, request_context
from emporium_catalog.settings import CatalogSettings
from emporium_kit import clients
from emporium_kit.app import build_app
from emporium_kit.graphql import load_sdl, make_federated_schema
from emporium_kit.workers import OutboxWorker
from fastapi import FastAPI
from graphql import GraphQLSchema


def build_schema() -> GraphQLSchema:
    schema = make_federated_schema(load_sdl("emporium_catalog"), *bindables)
    # resolvers and inputs speak snake_case (argument `productId` arrives as `product_id`)
    convert_schema_names(schema, None)
    return schema


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    settings = settings or CatalogSettings()
    mongo = clients.mongo(settings)
    # the cache is an optimisation: reads fall back to Mongo, so Redis is not critical
    redis = clients.redis(settings, critical=False)
    bus = clients.nats(settings)
    cache = ProductCache(
        redis,
        namespace=settings.catalog_cache_namespace,
        ttl_s=settings.catalog_cache_ttl_s,
        marker_ttl_s=settings.catalog_cache_marker_ttl_s,
    )
    outbox = OutboxWorker(
        [mongo.db[name] for name in service.OUTBOX_COLLECTIONS],
        bus=bus,
        catalog=events.catalog,
        replicas=settings.nats_stream_replicas,
        mongo_guard=mongo.dependency.guard,
        document_lock=writers_lock(mongo.db),
        poll_interval_s=settings.catalog_relay_poll_interval_s,
        settle_s=settings.catalog_relay_settle_s,
    )

    def events_written(collection: str, document_id: str) -> None:
        outbox.notify(collection, [document_id])

    catalog = CatalogContext(
        db=mongo.db,
        cache=cache,
        cursor_secret=settings.cursor_secret,
        events_written=events_written,
    )
    app = build_app(
        settings=settings,
        schema=build_schema(),
        clients=[mongo, redis, bus],
        context=request_context(catalog),
        on_startup=[
            partial(service.ensure_indexes, db=mongo.db),
            partial(service.ensure_slug_claims, db=mongo.db),
        ],
        workers=[outbox],
    )
    app.state.catalog = catalog
    app.state.outbox = outbox
    return app


app = create_app()
