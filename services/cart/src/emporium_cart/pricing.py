"""The offer and discount engine: pure functions from a cart and a set of rules to a price.

Nothing here reads a store or a clock: :func:`price_cart` gets the lines, the rules, the
coupon codes the shopper entered and a :class:`PricingContext` (now, the shopper, redemption
counts, the shipping fee) and returns a :class:`Pricing` — subtotal, every discount with its
rule, label and amount per line and per cart, shipping, total — plus, for each rule that did
not apply, why (``"Add $12.00 more for free shipping"``).

How rules combine
-----------------
A rule is *combinable* or *exclusive*. The engine evaluates two candidates — every applicable
combinable rule together, and each applicable exclusive rule alone — and keeps the one that
saves the shopper most (ties: the higher priority, then the rule id), so an exclusive rule
never combines with anything. Combinable rules apply in priority order (higher first, then by
id); each works on what the lines cost after the rules before it, so discounts never exceed
what is left and a total never goes below zero.

Rounding
--------
Money is integer minor units (:class:`emporium_kit.money.Money`). A percentage is taken of the
sum it applies to and rounded half up once; the result is split across the lines it came from
in proportion to their amounts by largest remainder, so the per-line parts add up exactly to
the discount: no minor unit is created or lost across lines. Buy-X-get-Y discounts whole
units. Results do not depend on the order of the lines.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from emporium_kit.money import Money


class TargetKind(enum.StrEnum):
    CART = "CART"
    PRODUCT = "PRODUCT"
    CATEGORY = "CATEGORY"  # the category and every category below it
    BRAND = "BRAND"
    SELLER = "SELLER"


class BenefitKind(enum.StrEnum):
    PERCENT_OFF = "PERCENT_OFF"
    AMOUNT_OFF = "AMOUNT_OFF"  # off the matching lines together, or off each matching unit
    BUY_X_GET_Y = "BUY_X_GET_Y"  # of every buy + get matching units, the get cheapest are off
    TIERED = "TIERED"  # the highest tier whose threshold the matching subtotal reaches
    FREE_SHIPPING = "FREE_SHIPPING"


class Stacking(enum.StrEnum):
    COMBINABLE = "COMBINABLE"
    EXCLUSIVE = "EXCLUSIVE"


@dataclass(frozen=True, slots=True)
class Line:
    """One cart line as pricing sees it; ``category_path`` is the product's category and its
    ancestors (root first), ``brand`` as the catalog spells it."""

    line_id: str
    product_id: str
    unit_price: Money
    quantity: int
    category_path: tuple[str, ...] = ()
    brand: str = ""
    seller_id: str | None = None

    @property
    def subtotal(self) -> Money:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    values: frozenset[str] = frozenset()

    def select(self, lines: Iterable[Line]) -> list[Line]:
        """The lines this target matches."""
        values = self.values
        match self.kind:
            case TargetKind.CART:
                return list(lines)
            case TargetKind.PRODUCT:
                return [line for line in lines if line.product_id in values]
            case TargetKind.CATEGORY:
                return [line for line in lines if not values.isdisjoint(line.category_path)]
            case TargetKind.BRAND:
                folded = _folded(values)
                return [line for line in lines if line.brand.casefold() in folded]
            case TargetKind.SELLER:
                return [line for line in lines if line.seller_id in values]


@functools.lru_cache(maxsize=1024)
def _folded(values: frozenset[str]) -> frozenset[str]:
    return frozenset(v.casefold() for v in values)


@dataclass(frozen=True, slots=True)
class Tier:
    """Reached when the matching subtotal is at least ``threshold``; then ``percent`` off or
    ``amount`` off (exactly one)."""

    threshold: Money
    percent: Decimal | None = None
    amount: Money | None = None


@dataclass(frozen=True, slots=True)
class Benefit:
    kind: BenefitKind
    percent: Decimal | None = None  # PERCENT_OFF; BUY_X_GET_Y (100 = free)
    amount: Money | None = None  # AMOUNT_OFF
    per_unit: bool = False  # AMOUNT_OFF: the amount off every matching unit, not once
    buy: int = 0  # BUY_X_GET_Y
    get: int = 0
    tiers: tuple[Tier, ...] = ()  # TIERED, ascending thresholds


@dataclass(frozen=True, slots=True)
class Rule:
    """One offer. ``coupon_code`` set: applies only when the shopper entered that code."""

    rule_id: str
    label: str
    target: Target
    benefit: Benefit
    priority: int = 0
    stacking: Stacking = Stacking.COMBINABLE
    min_subtotal: Money | None = None
    coupon_code: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    usage_limit: int | None = None  # redemptions in all
    per_user_limit: int | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class PricingContext:
    now: datetime
    currency: str
    shipping_fee: Money
    user_id: str | None = None
    # rule id -> redemptions so far, in all and by this user (coupons count at order placement)
    redemptions: Mapping[str, int] = field(default_factory=dict)
    user_redemptions: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Discount:
    rule_id: str
    label: str
    amount: Money


@dataclass(frozen=True, slots=True)
class LinePrice:
    line_id: str
    subtotal: Money
    discounts: tuple[Discount, ...]
    total: Money


@dataclass(frozen=True, slots=True)
class NotApplied:
    rule_id: str
    label: str
    reason: str
    code: str


@dataclass(frozen=True, slots=True)
class Pricing:
    subtotal: Money
    lines: tuple[LinePrice, ...]
    discounts: tuple[Discount, ...]  # per rule, over the whole cart (line parts summed)
    discount_total: Money
    shipping: Money  # the fee
    shipping_discount: Money
    total: Money
    not_applied: tuple[NotApplied, ...]


def coupon_problem(rule: Rule | None, context: PricingContext) -> tuple[str, str] | None:
    """Why a coupon cannot be used now — ``(code, message)`` — or ``None``. The cart uses it
    to refuse a code with a field error; pricing uses it to explain a code that went stale."""
    if rule is None or rule.coupon_code is None or not rule.active:
        return "COUPON_UNKNOWN", "No such coupon"
    if rule.starts_at is not None and context.now < rule.starts_at:
        return "COUPON_NOT_STARTED", "This coupon is not valid yet"
    if rule.ends_at is not None and context.now >= rule.ends_at:
        return "COUPON_EXPIRED", "This coupon has expired"
    used = context.redemptions.get(rule.rule_id, 0)
    if rule.usage_limit is not None and used >= rule.usage_limit:
        return "COUPON_EXHAUSTED", "This coupon has been used up"
    used_by_user = context.user_redemptions.get(rule.rule_id, 0)
    if (
        rule.per_user_limit is not None
        and context.user_id is not None
        and used_by_user >= rule.per_user_limit
    ):
        return "COUPON_USED", "You have already used this coupon"
    return None


def price_cart(
    lines: Sequence[Line],
    rules: Iterable[Rule],
    context: PricingContext,
    *,
    coupon_codes: Iterable[str] = (),
) -> Pricing:
    """Price ``lines`` with the best combination of ``rules`` (see the module doc)."""
    for line in lines:
        if line.unit_price.currency != context.currency:
            raise ValueError(f"line {line.line_id} is priced in {line.unit_price.currency}")
        if line.quantity < 1:
            raise ValueError(f"line {line.line_id} has quantity {line.quantity}")
    ordered = sorted(lines, key=lambda line: line.line_id)
    codes = {code.strip().upper() for code in coupon_codes}
    eligible: list[Rule] = []
    not_applied: dict[str, NotApplied] = {}
    # each rule's matching lines, found once: every candidate below reuses them
    matching: dict[str, list[Line]] = {}
    cart_subtotal = Money(
        sum(line.unit_price.amount * line.quantity for line in ordered), context.currency
    )
    for rule in sorted(rules, key=lambda r: (-r.priority, r.rule_id)):
        problem = _ineligible(
            rule,
            lines=ordered,
            context=context,
            codes=codes,
            matches=matching,
            cart_subtotal=cart_subtotal,
        )
        if problem is None:
            eligible.append(rule)
        elif problem is not _SILENT:
            not_applied[rule.rule_id] = NotApplied(rule.rule_id, rule.label, *problem)

    rank = {rule.rule_id: index for index, rule in enumerate(eligible)}
    combinable = [r for r in eligible if r.stacking is Stacking.COMBINABLE]
    together = _apply(ordered, combinable, context, rank, matching)
    alone = {
        r.rule_id: _apply(ordered, [r], context, rank, matching)
        for r in eligible
        if r.stacking is Stacking.EXCLUSIVE
    }
    best = max([together, *alone.values()], key=lambda c: (c.saving, -c.rank))
    for rule in eligible:
        if rule.rule_id in best.applied:
            continue
        own = alone.get(rule.rule_id, together)
        reason = own.skipped.get(rule.rule_id)
        if reason is None:
            reason = ("Cannot be combined with " + ", ".join(best.labels), "NOT_COMBINABLE")
        not_applied[rule.rule_id] = NotApplied(rule.rule_id, rule.label, *reason)

    return _priced(ordered, best, context, not_applied)


def _priced(
    lines: Sequence[Line],
    best: _Outcome,
    context: PricingContext,
    not_applied: Mapping[str, NotApplied],
) -> Pricing:
    currency = context.currency

    def money(amount: int) -> Money:
        return Money(amount, currency)

    line_prices = []
    for line in lines:
        gross = line.unit_price.amount * line.quantity
        parts = best.line_discounts[line.line_id]
        line_prices.append(
            LinePrice(
                line.line_id,
                money(gross),
                tuple(Discount(rule.rule_id, rule.label, money(amount)) for rule, amount in parts),
                money(gross - sum(amount for _, amount in parts)),
            )
        )
    subtotal = sum(line.unit_price.amount * line.quantity for line in lines)
    discount_total = sum(amount for _, amount in best.discounts)
    shipping = context.shipping_fee.amount if lines else 0
    shipping_discount = shipping if best.free_shipping else 0
    return Pricing(
        subtotal=money(subtotal),
        lines=tuple(line_prices),
        discounts=tuple(
            Discount(rule.rule_id, rule.label, money(amount)) for rule, amount in best.discounts
        ),
        discount_total=money(discount_total),
        shipping=money(shipping),
        shipping_discount=money(shipping_discount),
        total=money(subtotal - discount_total + shipping - shipping_discount),
        not_applied=tuple(sorted(not_applied.values(), key=lambda n: n.rule_id)),
    )


_SILENT = ("", "")  # not eligible and nothing worth telling the shopper (a coupon not entered)


def _ineligible(
    rule: Rule,
    *,
    lines: Sequence[Line],
    context: PricingContext,
    codes: set[str],
    matches: dict[str, list[Line]],
    cart_subtotal: Money,
) -> tuple[str, str] | None:
    if not rule.active:
        return _SILENT
    if rule.coupon_code is not None:
        if rule.coupon_code.upper() not in codes:
            return _SILENT
        if problem := coupon_problem(rule, context):
            code, message = problem
            return message, code
    elif (rule.starts_at is not None and context.now < rule.starts_at) or (
        rule.ends_at is not None and context.now >= rule.ends_at
    ):
        return _SILENT
    matching = matches[rule.rule_id] = rule.target.select(lines)
    if not matching:
        return "No item in your cart qualifies", "NO_QUALIFYING_ITEMS"
    if rule.min_subtotal is not None and cart_subtotal < rule.min_subtotal:
        missing = (rule.min_subtotal - cart_subtotal).formatted()
        if rule.benefit.kind is BenefitKind.FREE_SHIPPING:
            return f"Add {missing} more for free shipping", "BELOW_MINIMUM"
        return f"Add {missing} more to use this offer", "BELOW_MINIMUM"
    return None


@dataclass
class _Outcome:
    """One candidate's result in plain ints; only the winner becomes Money (:func:`_priced`)."""

    line_discounts: dict[str, list[tuple[Rule, int]]]
    # the best-ranked rule applied (priority, then id): breaks ties between equal savings
    rank: int = 1 << 30
    discounts: list[tuple[Rule, int]] = field(default_factory=list)
    applied: set[str] = field(default_factory=set)
    labels: list[str] = field(default_factory=list)
    skipped: dict[str, tuple[str, str]] = field(default_factory=dict)
    free_shipping: bool = False
    saving: int = 0  # minor units saved, shipping included


def _apply(
    lines: Sequence[Line],
    rules: Sequence[Rule],
    context: PricingContext,
    rank: Mapping[str, int],
    matches: Mapping[str, list[Line]],
) -> _Outcome:
    outcome = _Outcome(line_discounts={line.line_id: [] for line in lines})
    remaining = {line.line_id: line.unit_price.amount * line.quantity for line in lines}
    for rule in rules:
        matching = matches[rule.rule_id]
        if rule.benefit.kind is BenefitKind.FREE_SHIPPING:
            if outcome.free_shipping or context.shipping_fee.amount == 0:
                outcome.skipped[rule.rule_id] = ("Shipping is already free", "NOTHING_TO_DISCOUNT")
                continue
            outcome.free_shipping = True
            outcome.saving += context.shipping_fee.amount
            _record(outcome, rule, rank)
            continue
        parts = _rule_parts(rule, matching, remaining, context)
        if isinstance(parts, tuple):
            outcome.skipped[rule.rule_id] = parts
            continue
        total = sum(parts.values())
        if total <= 0:
            outcome.skipped[rule.rule_id] = ("Nothing left to discount", "NOTHING_TO_DISCOUNT")
            continue
        for line_id, amount in parts.items():
            if amount:
                remaining[line_id] -= amount
                outcome.line_discounts[line_id].append((rule, amount))
        outcome.discounts.append((rule, total))
        outcome.saving += total
        _record(outcome, rule, rank)
    return outcome


def _record(outcome: _Outcome, rule: Rule, rank: Mapping[str, int]) -> None:
    outcome.rank = min(outcome.rank, rank[rule.rule_id])
    outcome.applied.add(rule.rule_id)
    outcome.labels.append(rule.label)


def _rule_parts(
    rule: Rule, matching: Sequence[Line], remaining: Mapping[str, int], context: PricingContext
) -> dict[str, int] | tuple[str, str]:
    """Minor units off each matching line, or why the rule gives nothing."""
    benefit = rule.benefit
    base = {line.line_id: remaining[line.line_id] for line in matching}
    pool = sum(base.values())
    if benefit.kind is BenefitKind.PERCENT_OFF:
        assert benefit.percent is not None
        return _spread(Money(pool, context.currency).percent(benefit.percent), base)
    if benefit.kind is BenefitKind.AMOUNT_OFF:
        assert benefit.amount is not None
        if benefit.per_unit:
            return {
                line.line_id: min(benefit.amount.amount * line.quantity, base[line.line_id])
                for line in matching
            }
        return _spread(benefit.amount.min(Money(pool, context.currency)), base)
    if benefit.kind is BenefitKind.TIERED:
        reached = Money(
            sum(line.unit_price.amount * line.quantity for line in matching), context.currency
        )
        tier = next((t for t in reversed(benefit.tiers) if reached >= t.threshold), None)
        if tier is None:
            first = benefit.tiers[0]
            missing = (first.threshold - reached).formatted()
            return (f"Add {missing} more to save", "BELOW_TIER")
        if tier.percent is not None:
            return _spread(Money(pool, context.currency).percent(tier.percent), base)
        assert tier.amount is not None
        return _spread(tier.amount.min(Money(pool, context.currency)), base)
    return _buy_x_get_y(rule, matching, remaining, context)


def _spread(amount: Money, base: Mapping[str, int]) -> dict[str, int]:
    """``amount`` across ``base``'s lines in proportion to what is left of each (exact)."""
    if amount.amount <= 0 or not base:
        return dict.fromkeys(base, 0)
    ids = sorted(base)
    return dict(zip(ids, _allocate(amount.amount, [base[i] for i in ids]), strict=True))


def _allocate(amount: int, weights: list[int]) -> list[int]:
    """:meth:`Money.allocate`'s largest-remainder split of a non-negative ``amount``, in
    ints (the engine builds Money only for its result)."""
    total_weight = sum(weights)
    if total_weight == 0:
        weights, total_weight = [1] * len(weights), len(weights)
    shares = [divmod(amount * w, total_weight) for w in weights]
    parts = [share for share, _ in shares]
    for index in sorted(range(len(weights)), key=lambda i: (-shares[i][1], i))[
        : amount - sum(parts)
    ]:
        parts[index] += 1
    return parts


def _buy_x_get_y(
    rule: Rule, matching: Sequence[Line], remaining: Mapping[str, int], context: PricingContext
) -> dict[str, int] | tuple[str, str]:
    benefit = rule.benefit
    group = benefit.buy + benefit.get
    units = sorted(
        (line.unit_price.amount, line.product_id, line.line_id)
        for line in matching
        for _ in range(line.quantity)
    )
    free = len(units) // group * benefit.get
    if free == 0:
        need = group - len(units) % group
        return (f"Add {need} more qualifying item{'s' * (need > 1)}", "BUY_MORE")
    percent = benefit.percent if benefit.percent is not None else Decimal(100)
    parts: dict[str, int] = dict.fromkeys((line.line_id for line in matching), 0)
    for price, _product, line_id in units[:free]:  # the cheapest units are the free ones
        parts[line_id] += Money(price, context.currency).percent(percent).amount
    return {i: min(amount, remaining[i]) for i, amount in parts.items()}
