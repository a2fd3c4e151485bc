"""The catalog service app: ``create_app()`` for tests, module-level ``app`` for uvicorn.

Run locally with ``emporium-catalog serve`` (port 8002) or ``uvicorn emporium_catalog.app:app``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from emporium_kit import clients
from emporium_kit.app import build_app
from emporium_kit.cursors import Cursors
from emporium_kit.documents import LeasePruner
from emporium_kit.graphql import build_schema
from emporium_kit.workers import ConsumerWorker, Outage, OutboxWorker
from fastapi import FastAPI

from emporium_catalog import events, products, stock, store
from emporium_catalog.cache import ProductCache
from emporium_catalog.domain import PRODUCT_CURSORS
from emporium_catalog.relay import writers_lock
from emporium_catalog.resolvers import Catalog, bindables, request_context
from emporium_catalog.settings import CatalogSettings


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

    def wake_outbox(collection: str, ids: Iterable[str]) -> None:
        outbox.notify(collection, ids)  # a write with events: publish it now, not at a sweep

    db = store.CatalogDb.connect(mongo, settings, notify=wake_outbox)
    outbox = OutboxWorker(
        [mongo.db[name] for name in store.OUTBOX_COLLECTIONS],
        bus=bus,
        catalog=events.catalog,
        replicas=settings.nats_stream_replicas,
        mongo_guard=mongo.dependency.guard,
        document_lock=writers_lock(db),
        poll_interval_s=settings.catalog_relay_poll_interval_s,
        settle_s=settings.catalog_relay_settle_s,
    )
    # the inventory's stock levels set the availability of the offers it tracks; the product's
    # recorded stock versions make a repeated or older event a no-op, so no processed records
    stocking = ConsumerWorker(
        settings.catalog_stock_consumer_name,
        bus=bus,
        processed=None,
        catalog=events.catalog,
        batch_handler=partial(stock.handle_stock_batch, db, cache),
        handles=[events.StockLevelChanged],
        replicas=settings.nats_stream_replicas,
        deliver=settings.catalog_stock_consumer_deliver,
        batch_size=settings.catalog_stock_consumer_batch_size,
        max_wait_s=0.05,
        outage=Outage(mongo.dependency, errors=events.OUTAGE_ERRORS),
    )
    cursors = Cursors.from_settings(settings, PRODUCT_CURSORS)
    catalog = Catalog(db=db, cache=cache, cursors=cursors)
    app = build_app(
        settings=settings,
        schema=build_schema("emporium_catalog", *bindables),
        clients=[mongo, redis, bus],
        context=request_context(catalog),
        on_startup=[
            partial(store.ensure_indexes, db=db),
            partial(products.ensure_slug_claims, db=db),
        ],
        workers=[outbox, stocking, LeasePruner(db.leases, settings.lease_prune_interval_s)],
    )
    app.state.catalog = catalog
    app.state.outbox = outbox
    app.state.stocking = stocking
    return app


app = create_app()
