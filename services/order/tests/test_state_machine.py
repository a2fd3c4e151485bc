"""The order's state machine and placing rules, without infrastructure."""

from __future__ import annotations

from typing import Any

import pytest
from emporium_kit.errors import Unavailable, ValidationFailed
from emporium_order.cart import Cart
from emporium_order.models import TRANSITIONS, OrderStatus, PlaceOrder
from emporium_order.orders import cart_hash, check_cart, order_id_for, request_hash
from pydantic import ValidationError

S = OrderStatus
ADDRESS = {"name": "A", "line_1": "1 St", "city": "B", "postal_code": "1", "country": "DE"}


def test_every_status_has_its_moves_and_the_end_states_none() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)
    for end in (S.DELIVERED, S.PAYMENT_FAILED, S.REFUNDED):
        assert not TRANSITIONS[end]
    # money is never captured for an order that was not reserved
    assert [s for s, moves in TRANSITIONS.items() if S.CONFIRMED in moves] == [S.RESERVED]
    # nothing ships before it is confirmed, nothing is refunded that was not cancelled
    assert [s for s, moves in TRANSITIONS.items() if S.SHIPPED in moves] == [S.CONFIRMED]
    assert [s for s, moves in TRANSITIONS.items() if S.REFUNDED in moves] == [S.CANCELLED]
    assert S.CANCELLED not in TRANSITIONS[S.SHIPPED]


def cart(*lines: dict[str, Any], version: int = 3) -> Cart:
    money = {"amount": 2500, "currency": "USD"}
    total = {"amount": 2500 * sum(line.get("quantity", 1) for line in lines) + 599}
    return Cart.model_validate(
        {
            "id": "u-buyer",
            "version": version,
            "currency": "USD",
            "appliedCoupons": [],
            "lines": [
                {
                    "id": "p1",
                    "name": "Desk Lamp",
                    "sku": "SKU-1",
                    "sellerId": "s1",
                    "quantity": 1,
                    "available": True,
                    "availability": "IN_STOCK",
                    "unitPrice": money,
                    "subtotal": money,
                    "discounts": [],
                    "total": money,
                    **line,
                }
                for line in lines
            ],
            "pricing": {
                "subtotal": money,
                "discounts": [],
                "discountTotal": {**money, "amount": 0},
                "shipping": {**money, "amount": 599},
                "shippingDiscount": {**money, "amount": 0},
                "total": {**money, **total},
            },
        }
    )


def test_one_order_per_buyer_and_key_and_the_request_and_cart_are_fingerprinted() -> None:
    assert order_id_for("u1", "key-00000001") == order_id_for("u1", "key-00000001")
    assert order_id_for("u1", "key-00000001") != order_id_for("u2", "key-00000001")
    one = PlaceOrder(shipping_address=ADDRESS, idempotency_key="key-00000001")
    two = PlaceOrder(shipping_address=ADDRESS, idempotency_key="key-00000001", email="a@b.example")
    assert request_hash(one) != request_hash(two)
    assert request_hash(one) == request_hash(one.model_copy())
    assert cart_hash(cart({})) != cart_hash(cart({"quantity": 2}))
    # the cart's version and a line's availability label are not what was ordered
    assert cart_hash(cart({})) == cart_hash(cart({"availability": "LOW_STOCK"}, version=9))


def test_a_cart_is_ordered_only_with_sold_available_lines() -> None:
    check_cart(cart({}))
    refusals = {
        "CART_EMPTY": (cart(), ["cart", "lines"]),
        "LINE_UNAVAILABLE": (
            cart({}, {"id": "p2", "available": False, "availability": "OUT_OF_STOCK"}),
            ["cart", "lines", 1],
        ),
        "LINE_NOT_SOLD": (cart({"sku": None, "sellerId": None}), ["cart", "lines", 0]),
    }
    for code, (refused, field) in refusals.items():
        with pytest.raises(ValidationFailed) as caught:
            check_cart(refused)
        assert (caught.value.code, caught.value.field) == (code, field)
    # a line priced at its added price (the cart could not read the product): retry later
    with pytest.raises(Unavailable) as unconfirmed:
        check_cart(cart({"availability": "UNKNOWN", "sku": None, "sellerId": None}))
    assert (unconfirmed.value.code, unconfirmed.value.field) == (
        "LINE_UNCONFIRMED",
        ["cart", "lines", 0],
    )


def test_inputs_are_bounded() -> None:
    with pytest.raises(ValidationError):
        PlaceOrder(shipping_address=ADDRESS, idempotency_key="short")
    with pytest.raises(ValidationError):
        PlaceOrder(shipping_address=ADDRESS, idempotency_key="key-00000001", payment_method="x")
    with pytest.raises(ValidationError):
        PlaceOrder(
            shipping_address={**ADDRESS, "country": "Germany"},
            idempotency_key="key-00000001",
        )
