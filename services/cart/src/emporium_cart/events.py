"""The events the cart consumes and their handlers, in one place. It publishes none.

The catalog's product and category events (durable consumer ``cart-prices`` on
``EMPORIUM_CATALOG``, run by the kit's ``ConsumerWorker``) keep the product state carts are
priced from; the payloads are read with the cart's tolerant-reader views of the catalog's
versioned contracts (``services/catalog/contracts/catalog/publishes``). :data:`HANDLERS`
maps each event to one service call (:mod:`emporium_cart.repricing`).

The order's ``OrderConfirmed`` (the ordered units leave the buyer's cart, once per order:
the cart records the order ids it applied) and ``OrderCancelled`` / ``OrderPaymentFailed``
(the order's coupon redemptions are given back; releasing one twice changes nothing) come
on the same durable consumer. Consuming the order's own events needs no service token: the
cart trusts its event bus, not a caller.

Catalog handlers are idempotent by construction: a product state is only replaced by a newer
catalog version (a price change or an archive also by the same one, carrying the same
data), so a redelivery or an older event changes nothing, and re-pricing a cart again only
bumps its version.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from emporium_kit.events import Event, EventCatalog, EventSpec
from emporium_kit.resilience import DependencyUnavailable

from emporium_cart import checkout, repricing
from emporium_cart.carts import Carts
from emporium_cart.models import (
    CategoryView,
    OrderView,
    PriceChangedView,
    ProductArchivedView,
    ProductView,
)
from emporium_cart.offers import Offers
from emporium_cart.products import Products

CATALOG = "catalog"
ORDER = "order"

events = EventCatalog("cart")

ProductCreated = events.consumes(EventSpec(CATALOG, "ProductCreated", ProductView))
ProductUpdated = events.consumes(EventSpec(CATALOG, "ProductUpdated", ProductView))
PriceChanged = events.consumes(EventSpec(CATALOG, "PriceChanged", PriceChangedView))
ProductArchived = events.consumes(EventSpec(CATALOG, "ProductArchived", ProductArchivedView))
CategoryChanged = events.consumes(EventSpec(CATALOG, "CategoryChanged", CategoryView))
OrderConfirmed = events.consumes(EventSpec(ORDER, "OrderConfirmed", OrderView))
OrderCancelled = events.consumes(EventSpec(ORDER, "OrderCancelled", OrderView))
OrderPaymentFailed = events.consumes(EventSpec(ORDER, "OrderPaymentFailed", OrderView))


Handler = Callable[[Products, Carts, Event[Any]], Awaitable[object]]


async def on_product(products: Products, carts: Carts, event: Event[ProductView]) -> object:
    return await repricing.product_changed(products=products, carts=carts, product=event.data)


async def on_price_changed(
    products: Products, carts: Carts, event: Event[PriceChangedView]
) -> object:
    return await repricing.price_changed(products=products, carts=carts, change=event.data)


async def on_product_archived(
    products: Products, carts: Carts, event: Event[ProductArchivedView]
) -> object:
    return await repricing.product_archived(products=products, carts=carts, change=event.data)


async def on_category_changed(
    products: Products, _carts: Carts, event: Event[CategoryView]
) -> object:
    await repricing.category_changed(products=products, change=event.data)
    return None


HANDLERS: dict[EventSpec[Any], Handler] = {
    ProductCreated: on_product,
    ProductUpdated: on_product,
    PriceChanged: on_price_changed,
    ProductArchived: on_product_archived,
    CategoryChanged: on_category_changed,
}

OrderHandler = Callable[[Carts, Offers, Event[OrderView]], Awaitable[object]]


async def on_order_confirmed(carts: Carts, _offers: Offers, event: Event[OrderView]) -> object:
    return await checkout.order_confirmed(carts=carts, order=event.data)


async def on_order_failed(_carts: Carts, offers: Offers, event: Event[OrderView]) -> object:
    return await checkout.order_failed(offers=offers, order=event.data)


ORDER_HANDLERS: dict[EventSpec[Any], OrderHandler] = {
    OrderConfirmed: on_order_confirmed,
    OrderCancelled: on_order_failed,
    OrderPaymentFailed: on_order_failed,
}

# Redis down or the catalog unreachable (a price change for a product never seen): wait it
# out instead of burning delivery attempts
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (DependencyUnavailable, httpx.TransportError)
