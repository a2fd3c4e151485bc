"""Placing an order on the real order store, with the remote cart played by a scripted stand-in
(the cart service itself is exercised end to end in services/tests/checkout): what is
ordered comes from the cart, a cart changed while placing is refused and writes nothing, the
key's idempotency against the cart's content, coupons redeemed for the order's id."""

from __future__ import annotations

from typing import Any

import pytest
from emporium_kit.errors import Conflict
from emporium_order import orders
from emporium_order.cart import Cart, CartService
from emporium_order.models import PlaceOrder
from emporium_order.store import OrderDb
from ulid import ULID

from .test_state_machine import ADDRESS, cart

pytestmark = pytest.mark.integration


class ScriptedCart(CartService):
    """Answers each read with the next scripted cart (the last one again when done)."""

    def __init__(self, *reads: Cart) -> None:
        self.reads = list(reads)
        self.redeemed: list[tuple[str, str]] = []

    async def read(self, authorization: str) -> Cart:
        return self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]

    async def redeem(
        self, authorization: str, *, code: str, order_id: str, at: list[str | int]
    ) -> None:
        self.redeemed.append((code, order_id))


def request(**fields: Any) -> PlaceOrder:
    return PlaceOrder(shipping_address=ADDRESS, idempotency_key=f"key-{ULID()}", **fields)


async def place(db: OrderDb, remote: CartService, data: PlaceOrder, user: str) -> Any:
    return await orders.place_order(
        db=db, cart=remote, authorization="Bearer t", user_id=user, data=data
    )


async def test_the_order_is_the_carts_pricing_and_its_coupons_are_redeemed(db: OrderDb) -> None:
    user, data = f"u-{ULID()}", request()
    coupon = cart({"quantity": 2}).model_copy(update={"appliedCoupons": ["SAVE5"]})
    remote = ScriptedCart(coupon)
    placed = await place(db, remote, data, user)
    assert (placed.total_amount, placed.pricing.shipping, placed.coupons) == (5599, 599, ["SAVE5"])
    assert [(i.name, i.sku, i.seller_id, i.quantity, i.total) for i in placed.items] == [
        ("Desk Lamp", "SKU-1", "s1", 2, 2500)
    ]
    assert remote.redeemed == [("SAVE5", placed.id)]
    # a retry (the cart unchanged, or emptied by the confirmed order) is the same order
    assert (await place(db, remote, data, user)).id == placed.id
    assert (await place(db, ScriptedCart(cart()), data, user)).id == placed.id
    # the same key with other cart content, or another request, is refused
    for remote_now, data_now in (
        (ScriptedCart(cart({"quantity": 3})), data),
        (remote, data.model_copy(update={"email": "other@example.test"})),
    ):
        with pytest.raises(Conflict) as reused:
            await place(db, remote_now, data_now, user)
        assert (reused.value.code, reused.value.field) == (
            "IDEMPOTENCY_KEY_REUSED",
            ["input", "idempotencyKey"],
        )


async def test_a_cart_changed_while_placing_is_refused_and_nothing_is_written(
    db: OrderDb,
) -> None:
    user, data = f"u-{ULID()}", request()
    changed = ScriptedCart(cart({}, version=3), cart({}, {"id": "p2"}, version=4))
    with pytest.raises(Conflict) as refused:
        await place(db, changed, data, user)
    assert (refused.value.code, refused.value.field) == ("CART_CHANGED", ["cart", "version"])
    assert await db.orders.get(orders.order_id_for(user, data.idempotency_key)) is None
    # placing again on the cart as it is now succeeds with the same key
    placed = await place(db, ScriptedCart(cart({}, {"id": "p2"}, version=4)), data, user)
    assert [item.product_id for item in placed.items] == ["p1", "p2"]
