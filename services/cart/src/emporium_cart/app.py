"""The cart service app: ``create_app()`` for tests, module-level ``app`` for
``emporium-cart serve``.

Dependencies: Redis is critical (carts live there). MongoDB (offers, processed events), NATS
(catalog events) and the catalog (prices on a miss) are not: while one is down, carts are
still read and written, priced with the offers and product states last seen.
"""

from __future__ import annotations

from functools import partial

import httpx
from emporium_kit import clients
from emporium_kit.app import build_app
from emporium_kit.documents import LeasePruner
from emporium_kit.events import ProcessedEvents
from emporium_kit.graphql import build_schema
from emporium_kit.resilience import Dependency
from emporium_kit.workers import ConsumerWorker, Outage
from fastapi import FastAPI

from emporium_cart import events
from emporium_cart.carts import Carts
from emporium_cart.live import Live
from emporium_cart.offers import Offers
from emporium_cart.products import CatalogClient, Products
from emporium_cart.resolvers import Cart, bindables, request_context
from emporium_cart.settings import CartSettings
from emporium_cart.store import PROCESSED_EVENTS, Keys, OffersDb
from emporium_cart.views import Viewer


def create_app(settings: CartSettings | None = None) -> FastAPI:
    settings = settings or CartSettings()
    redis = clients.redis(settings)
    mongo = clients.mongo(settings, critical=False)
    bus = clients.nats(settings, critical=False)
    http = httpx.AsyncClient(timeout=settings.http_timeout_s)
    catalog = CatalogClient(
        settings.cart_catalog_url,
        http=http,
        dependency=Dependency(
            "catalog",
            timeout_s=settings.http_timeout_s,
            critical=False,
            fail_max=settings.breaker_fail_max,
            reset_timeout_s=settings.breaker_reset_timeout_s,
        ),
    )
    keys = Keys(redis, settings.cart_namespace)
    products = Products(redis, keys, catalog)
    carts = Carts(redis, keys, settings)
    db = OffersDb.connect(mongo, settings)
    offers = Offers(
        db,
        redis,
        keys,
        products,
        currency=settings.cart_currency,
        cache_s=settings.cart_offers_cache_s,
    )
    viewer = Viewer(products, offers, settings.cart_currency, settings.cart_shipping_fee)
    live = Live(settings.redis_url, keys)

    # the catalog's events keep the product states carts are priced from (events.HANDLERS);
    # the order's empty carts and give coupons back (events.ORDER_HANDLERS)
    consumer = ConsumerWorker(
        settings.cart_consumer_name,
        bus=bus,
        processed=ProcessedEvents(mongo.db[PROCESSED_EVENTS], guard=mongo.dependency.guard),
        catalog=events.events,
        handlers={
            **{spec: partial(handle, products, carts) for spec, handle in events.HANDLERS.items()},
            **{
                spec: partial(handle, carts, offers)
                for spec, handle in events.ORDER_HANDLERS.items()
            },
        },
        replicas=settings.nats_stream_replicas,
        deliver=settings.cart_consumer_deliver,
        outage=Outage(redis.dependency, errors=events.OUTAGE_ERRORS),
    )

    async def close_http() -> None:
        await http.aclose()

    service = Cart(
        settings=settings, carts=carts, products=products, offers=offers, viewer=viewer, live=live
    )
    app = build_app(
        settings=settings,
        schema=build_schema("emporium_cart", *bindables),
        clients=[redis, mongo, bus],
        dependencies=[catalog.dependency],
        context=request_context(service),
        workers=[live, consumer, LeasePruner(db.leases, settings.lease_prune_interval_s)],
        on_shutdown=[close_http],
        subscriptions=True,
    )
    health = app.state.health
    live.draining = lambda: health.shutting_down
    app.state.cart = service
    app.state.consumer = consumer
    return app


app = create_app()
