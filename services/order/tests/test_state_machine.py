"""The order's state machine and placing rules, without infrastructure."""

from __future__ import annotations

import pytest
from emporium_order.models import TRANSITIONS, OrderStatus, PlaceOrder
from emporium_order.orders import order_id_for, request_hash
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


def test_one_order_per_buyer_and_key_and_the_request_is_fingerprinted() -> None:
    assert order_id_for("u1", "key-00000001") == order_id_for("u1", "key-00000001")
    assert order_id_for("u1", "key-00000001") != order_id_for("u2", "key-00000001")
    line = {"product_id": "p", "sku": "s", "quantity": 1}
    one = PlaceOrder(lines=[line], shipping_address=ADDRESS, idempotency_key="key-00000001")
    two = PlaceOrder(
        lines=[{**line, "quantity": 2}], shipping_address=ADDRESS, idempotency_key="key-00000001"
    )
    assert request_hash(one) != request_hash(two)
    assert request_hash(one) == request_hash(one.model_copy())


def test_inputs_are_bounded() -> None:
    line = {"product_id": "p", "sku": "s", "quantity": 1}
    with pytest.raises(ValidationError, match="each SKU appears once"):
        PlaceOrder(lines=[line, line], shipping_address=ADDRESS, idempotency_key="key-00000001")
    with pytest.raises(ValidationError):
        PlaceOrder(lines=[line], shipping_address=ADDRESS, idempotency_key="short")
    with pytest.raises(ValidationError):
        PlaceOrder(
            lines=[{**line, "quantity": 101}], shipping_address=ADDRESS, idempotency_key="k" * 9
        )
    with pytest.raises(ValidationError):
        PlaceOrder(
            lines=[line],
            shipping_address={**ADDRESS, "country": "Germany"},
            idempotency_key="key-00000001",
        )
