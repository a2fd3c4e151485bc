"""Catalog changes reaching carts: update the product state, then every cart holding it.

Each function is one service call an event handler makes (:mod:`emporium_cart.events`).
A product whose stored state changed in what a cart shows (price, availability, status,
name) gets every cart in its ``product-carts`` index re-priced: a new cart version and a
live update, the expiry kept. Since lines are priced from the product state on every read,
the new version is what tells the shopper's devices; the line's ``priceChange`` flag
compares the new price with the one the line was added at.
"""

from __future__ import annotations

from emporium_cart.carts import Carts, touch
from emporium_cart.models import (
    CategoryView,
    PriceChangedView,
    ProductArchivedView,
    ProductState,
    ProductView,
)
from emporium_cart.products import Products


async def product_changed(*, products: Products, carts: Carts, product: ProductView) -> int:
    """``ProductCreated`` / ``ProductUpdated``; the number of carts re-priced."""
    before = (await products.stored([product.id])).get(product.id)
    after = await products.apply_product(product)
    if after is None or not _shows_differently(before, after):
        return 0
    return await reprice(carts=carts, product_id=product.id)


async def price_changed(*, products: Products, carts: Carts, change: PriceChangedView) -> int:
    state = await products.apply_price(
        change.product_id, change.version, change.new_price.model_dump()
    )
    return 0 if state is None else await reprice(carts=carts, product_id=change.product_id)


async def product_archived(*, products: Products, carts: Carts, change: ProductArchivedView) -> int:
    state = await products.apply_archived(change.product_id, change.version)
    return 0 if state is None else await reprice(carts=carts, product_id=change.product_id)


async def category_changed(*, products: Products, change: CategoryView) -> None:
    await products.apply_category(change)


async def reprice(*, carts: Carts, product_id: str) -> int:
    touched = 0
    for cart_id in await carts.carts_holding(product_id):
        key = carts.key_of(cart_id)
        written = await carts.change(key, touch(product_id), keep_ttl=True)
        if written.get("merged_into") or not any(
            line["product_id"] == product_id
            for line in [*written.get("lines", []), *written.get("saved", [])]
        ):
            await carts.forget(product_id, cart_id)  # the cart dropped it since (or expired)
            continue
        touched += 1
    return touched


def _shows_differently(before: ProductState | None, after: ProductState) -> bool:
    if before is None:
        return True
    return (before.price, before.availability, before.status, before.name) != (
        after.price,
        after.availability,
        after.status,
        after.name,
    )
