"""Money: integer minor units of an ISO 4217 currency, never a float.

Every service that prices, charges or refunds uses this one type::

    price = Money(129900, "USD")            # $1,299.00
    price.formatted()                       # "$1,299.00"
    price * 3 + Money(500, "USD")           # Money(390200, "USD")
    price.percent(Decimal("12.5"))          # 12.5 % of it, rounded half up: Money(16238, "USD")
    Money(1000, "USD").allocate([1, 1, 1])  # [334, 333, 333] cents: the parts add up exactly

The rounding rule, everywhere: a fraction of a minor unit rounds half up (away from zero), and
a total split across parts (a cart discount across its lines, a refund across items) is
allocated by largest remainder, so the parts always add up to the total — no unit is created
or lost. Amounts in different currencies never mix (:class:`CurrencyMismatchError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# ISO 4217 code -> (minor-unit exponent, display symbol). A closed list on purpose: a price in a
# currency we cannot format or settle is a bug at the edge, not something to store.
CURRENCIES: dict[str, tuple[int, str]] = {
    "USD": (2, "$"),
    "EUR": (2, "€"),
    "GBP": (2, "£"),
    "CHF": (2, "CHF "),
    "SEK": (2, "SEK "),
    "NOK": (2, "NOK "),
    "DKK": (2, "DKK "),
    "PLN": (2, "PLN "),
    "CZK": (2, "CZK "),
    "CAD": (2, "CA$"),
    "AUD": (2, "A$"),
    "JPY": (0, "¥"),
    "KRW": (0, "₩"),
    "INR": (2, "₹"),
    "BRL": (2, "R$"),
}

# Upper bound for any single price: 10^10 minor units (100 million in a 2-decimal currency).
# Keeps amounts, and sums of many of them, well inside a signed 64-bit BSON integer.
MAX_AMOUNT = 10_000_000_000


class CurrencyMismatchError(ValueError):
    """Two amounts in different currencies were combined."""


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in integer minor units of an ISO 4217 currency from :data:`CURRENCIES`."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:  # bool and float are refused, not coerced
            raise TypeError(f"Money amount must be an int of minor units, not {self.amount!r}")
        if self.currency not in CURRENCIES:
            raise ValueError(f"unsupported currency {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Money:
        return cls(int(doc["amount"]), str(doc["currency"]))

    def to_doc(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency}

    @property
    def exponent(self) -> int:
        return CURRENCIES[self.currency][0]

    def formatted(self) -> str:
        """``$1,299.00``, ``-€0.50``, ``¥1,200``."""
        exponent, symbol = CURRENCIES[self.currency]
        sign = "-" if self.amount < 0 else ""
        units, minor = divmod(abs(self.amount), 10**exponent)
        text = f"{units:,}" + (f".{minor:0{exponent}d}" if exponent else "")
        return f"{sign}{symbol}{text}"

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"{self.currency} and {other.currency} do not mix")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        if type(factor) is not int:
            raise TypeError("multiply Money by an int (a quantity); use percent() for rates")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def min(self, other: Money) -> Money:
        return self if self <= other else other

    def max(self, other: Money) -> Money:
        return self if self >= other else other

    def percent(self, rate: Decimal | int) -> Money:
        """``rate`` per cent of this amount, rounded half up to the minor unit."""
        exact = Decimal(self.amount) * Decimal(rate) / 100
        return Money(int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)), self.currency)

    def allocate(self, weights: Sequence[int]) -> list[Money]:
        """Split this amount in proportion to non-negative integer ``weights`` (largest
        remainder; ties go to the earlier part). The parts always sum to this amount; all
        weights zero splits evenly."""
        if not weights:
            raise ValueError("allocate needs at least one weight")
        if any(type(w) is not int or w < 0 for w in weights):
            raise ValueError("weights must be non-negative ints")
        total_weight = sum(weights)
        if total_weight == 0:
            weights, total_weight = [1] * len(weights), len(weights)
        sign = -1 if self.amount < 0 else 1
        amount = abs(self.amount)
        shares = [divmod(amount * w, total_weight) for w in weights]
        parts = [share for share, _ in shares]
        left = amount - sum(parts)
        by_remainder = sorted(range(len(weights)), key=lambda i: (-shares[i][1], i))
        for index in by_remainder[:left]:
            parts[index] += 1
        return [Money(sign * part, self.currency) for part in parts]
