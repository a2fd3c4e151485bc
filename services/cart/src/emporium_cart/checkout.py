"""What a placed order does to the cart service, from the order's events.

- ``OrderConfirmed``: the ordered units and the redeemed coupons leave the buyer's cart. A
  line keeps what the shopper added after placing (only the ordered quantity goes), and the
  cart records the order's id in the same write, so the order applies once however often its
  event arrives.
- ``OrderCancelled`` / ``OrderPaymentFailed``: the order's coupon redemptions are given back
  (releasing an order that holds none changes nothing), so the coupon's limit counts only
  orders that stand.
"""

from __future__ import annotations

import logging
from typing import Any

from emporium_kit.errors import NotFound

from emporium_cart.carts import Carts, Doc
from emporium_cart.models import OrderView
from emporium_cart.offers import Offers

log = logging.getLogger(__name__)

# the ids of the orders a cart has applied, newest last: far more than a shopper confirms
# while one event can still be redelivered
ORDERS_KEPT = 50


def remove_ordered(order: OrderView) -> Any:
    ordered: dict[str, int] = {}
    for line in order.lines:
        ordered[line.product_id] = ordered.get(line.product_id, 0) + line.quantity

    def change(cart: Doc) -> Doc | None:
        applied = cart.get("orders", [])
        if cart["version"] == 0 or order.order_id in applied:
            return None
        lines = []
        for line in cart["lines"]:
            left = line["quantity"] - ordered.get(line["product_id"], 0)
            if left > 0:
                lines.append({**line, "quantity": left})
        cart["lines"] = lines
        cart["coupons"] = [code for code in cart["coupons"] if code not in order.coupons]
        cart["orders"] = [*applied, order.order_id][-ORDERS_KEPT:]
        return cart

    return change


async def order_confirmed(*, carts: Carts, order: OrderView) -> Doc:
    return await carts.change(carts.user_key(order.user_id), remove_ordered(order), keep_ttl=True)


async def order_failed(*, offers: Offers, order: OrderView) -> int:
    """Give back every redemption of the order; the number released."""
    released = 0
    for code in order.coupons:
        try:
            await offers.release(code=code, order_id=order.order_id)
        except NotFound:
            log.warning("order %s: coupon %s no longer exists", order.order_id, code)
            continue
        released += 1
    return released
