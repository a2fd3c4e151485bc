"""Money: minor units, formatting, arithmetic within one currency, exact allocation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from emporium_kit.money import CurrencyMismatchError, Money
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (129900, "USD", "$1,299.00"),
        (5, "EUR", "€0.05"),
        (1234, "JPY", "¥1,234"),
        (0, "GBP", "£0.00"),
        (-250, "USD", "-$2.50"),
        (100000000, "INR", "₹1,000,000.00"),
    ],
)
def test_formatting(amount: int, currency: str, text: str) -> None:
    assert Money(amount, currency).formatted() == text


def test_amounts_are_ints_of_a_known_currency() -> None:
    with pytest.raises(TypeError):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "USD")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="XYZ"):
        Money(1, "XYZ")
    assert Money.from_doc(Money(5, "EUR").to_doc()) == Money(5, "EUR")


def test_arithmetic_stays_in_one_currency() -> None:
    price = Money(129900, "USD")
    assert price * 3 + Money(500, "USD") == Money(390200, "USD")
    assert 2 * price - price == price
    assert -price == Money(-129900, "USD")
    assert Money(1, "USD") < Money(2, "USD") <= Money(2, "USD")
    assert Money(7, "USD").min(Money(3, "USD")) == Money(3, "USD")
    with pytest.raises(CurrencyMismatchError):
        _ = price + Money(1, "EUR")
    with pytest.raises(CurrencyMismatchError):
        _ = price < Money(1, "EUR")
    with pytest.raises(TypeError):
        _ = price * Decimal("1.5")  # type: ignore[operator]


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [
        (129900, Decimal("12.5"), 16238),  # 16237.5 rounds half up
        (999, 10, 100),  # 99.9
        (5, 50, 3),  # 2.5
        (-5, 50, -3),  # half away from zero
        (1000, 0, 0),
    ],
)
def test_percent_rounds_half_up(amount: int, rate: Decimal | int, expected: int) -> None:
    assert Money(amount, "USD").percent(rate) == Money(expected, "USD")


def test_allocation_examples() -> None:
    assert [m.amount for m in Money(1000, "USD").allocate([1, 1, 1])] == [334, 333, 333]
    assert [m.amount for m in Money(100, "USD").allocate([70, 20, 10])] == [70, 20, 10]
    assert [m.amount for m in Money(-1000, "USD").allocate([1, 1, 1])] == [-334, -333, -333]
    assert [m.amount for m in Money(5, "USD").allocate([0, 0])] == [3, 2]
    with pytest.raises(ValueError, match="weight"):
        Money(5, "USD").allocate([])
    with pytest.raises(ValueError, match="non-negative"):
        Money(5, "USD").allocate([1, -1])


@given(
    amount=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=60),
)
def test_allocation_never_creates_or_loses_a_unit(amount: int, weights: list[int]) -> None:
    parts = Money(amount, "EUR").allocate(weights)
    assert sum(p.amount for p in parts) == amount
    assert len(parts) == len(weights)
    total = sum(weights) or len(weights)
    effective = weights if sum(weights) else [1] * len(weights)
    for part, weight in zip(parts, effective, strict=True):
        exact = abs(amount) * weight / total
        assert abs(abs(part.amount) - exact) < 1 + 1e-6  # each part within one unit of exact
