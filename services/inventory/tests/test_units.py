"""Pure rules of the inventory: demo quantities and input bounds."""

from __future__ import annotations

import pytest
from emporium_inventory.models import ReserveRequest, StockAdjust
from emporium_inventory.stock import demo_quantity
from pydantic import ValidationError


def test_demo_quantities_are_deterministic_with_a_few_low_and_out_of_stock() -> None:
    quantities = [demo_quantity(f"SKU-{n}") for n in range(2000)]
    assert quantities == [demo_quantity(f"SKU-{n}") for n in range(2000)]
    out = sum(q == 0 for q in quantities)
    low = sum(1 <= q <= 3 for q in quantities)
    assert 20 <= out <= 120, out
    assert 80 <= low <= 250, low
    assert max(quantities) <= 100


def test_a_reservation_takes_its_skus_in_sorted_order_once_each() -> None:
    request = ReserveRequest(
        reservation_id="order-1",
        lines=[{"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 2}],
    )
    assert [line.sku for line in request.lines] == ["A", "B"]
    with pytest.raises(ValidationError, match="each SKU appears once"):
        ReserveRequest(
            reservation_id="order-1",
            lines=[{"sku": "A", "quantity": 1}, {"sku": "A", "quantity": 2}],
        )
    with pytest.raises(ValidationError):
        ReserveRequest(reservation_id="order-1", lines=[])
    with pytest.raises(ValidationError):
        ReserveRequest(reservation_id="order-1", lines=[{"sku": "A", "quantity": 0}])


def test_an_adjustment_changes_something() -> None:
    with pytest.raises(ValidationError, match="must not be 0"):
        StockAdjust(sku="A", delta=0, reason="count")
    assert StockAdjust(sku="A", delta=-3, reason="damage").delta == -3
