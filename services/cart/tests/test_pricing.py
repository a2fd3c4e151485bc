"""The offer and discount engine: worked examples and properties over generated carts."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from emporium_cart.pricing import (
    Benefit,
    BenefitKind,
    Line,
    PricingContext,
    Rule,
    Stacking,
    Target,
    TargetKind,
    Tier,
    coupon_problem,
    price_cart,
)
from emporium_kit.money import Money
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CTX = PricingContext(now=NOW, currency="USD", shipping_fee=Money(499, "USD"), user_id="u1")


def usd(amount: int) -> Money:
    return Money(amount, "USD")


def line(
    line_id: str,
    price: int,
    quantity: int = 1,
    *,
    product: str | None = None,
    categories: tuple[str, ...] = ("root", "phones"),
    brand: str = "Acme",
    seller: str | None = "s1",
) -> Line:
    return Line(
        line_id=line_id,
        product_id=product or f"p-{line_id}",
        unit_price=usd(price),
        quantity=quantity,
        category_path=categories,
        brand=brand,
        seller_id=seller,
    )


WHOLE_CART = Target(TargetKind.CART)


def percent_off(rule_id: str, percent: str, target: Target = WHOLE_CART, **kw: object) -> Rule:
    return Rule(
        rule_id,
        f"{percent}% off",
        target,
        Benefit(BenefitKind.PERCENT_OFF, percent=Decimal(percent)),
        **kw,  # type: ignore[arg-type]
    )


def test_an_empty_rule_set_prices_the_lines_and_shipping() -> None:
    pricing = price_cart([line("a", 1000, 2), line("b", 250)], [], CTX)
    assert pricing.subtotal == usd(2250)
    assert pricing.discount_total == usd(0)
    assert pricing.shipping == usd(499)
    assert pricing.total == usd(2749)
    assert [lp.total for lp in pricing.lines] == [usd(2000), usd(250)]


def test_percent_off_a_category_is_split_exactly_across_its_lines() -> None:
    rule = percent_off("r1", "10", Target(TargetKind.CATEGORY, frozenset({"phones"})))
    lines = [line("a", 333), line("b", 333), line("c", 334), line("d", 1000, categories=("x",))]
    pricing = price_cart(lines, [rule], CTX)
    # 10 % of 1000 = 100, split 33/33/34 by amount; the other category is untouched
    assert pricing.discounts[0].amount == usd(100)
    per_line = {lp.line_id: sum(d.amount.amount for d in lp.discounts) for lp in pricing.lines}
    assert per_line == {"a": 33, "b": 33, "c": 34, "d": 0}


def test_amount_off_per_unit_and_once() -> None:
    each = Rule(
        "each",
        "$1 off each",
        Target(TargetKind.PRODUCT, frozenset({"p-a"})),
        Benefit(BenefitKind.AMOUNT_OFF, amount=usd(100), per_unit=True),
    )
    once = Rule(
        "once",
        "$5 off Acme",
        Target(TargetKind.BRAND, frozenset({"acme"})),
        Benefit(BenefitKind.AMOUNT_OFF, amount=usd(500)),
    )
    pricing = price_cart([line("a", 250, 3), line("b", 100, brand="Other")], [each, once], CTX)
    assert {d.rule_id: d.amount for d in pricing.discounts} == {"each": usd(300), "once": usd(450)}
    # $5 off the Acme line, but only the $4.50 the earlier rule left of it
    assert pricing.lines[0].total == usd(0)


def test_buy_two_get_one_free_gives_the_cheapest_units() -> None:
    rule = Rule(
        "b2g1",
        "Buy 2 get 1 free",
        Target(TargetKind.SELLER, frozenset({"s1"})),
        Benefit(BenefitKind.BUY_X_GET_Y, buy=2, get=1),
    )
    pricing = price_cart([line("a", 1000, 2), line("b", 300, 4)], [rule], CTX)
    # 6 units -> 2 free: the two cheapest (300 each)
    assert pricing.discount_total == usd(600)
    assert pricing.lines[1].discounts[0].amount == usd(600)
    short = price_cart([line("a", 1000, 2)], [rule], CTX)
    assert short.not_applied[0].reason == "Add 1 more qualifying item"


def test_tiers_pick_the_highest_reached_and_say_what_is_missing() -> None:
    rule = Rule(
        "tiers",
        "Spend more, save more",
        Target(TargetKind.CART),
        Benefit(
            BenefitKind.TIERED,
            tiers=(
                Tier(usd(5000), percent=Decimal(5)),
                Tier(usd(10000), percent=Decimal(10)),
                Tier(usd(20000), amount=usd(3000)),
            ),
        ),
    )
    assert price_cart([line("a", 12000)], [rule], CTX).discount_total == usd(1200)
    assert price_cart([line("a", 25000)], [rule], CTX).discount_total == usd(3000)
    below = price_cart([line("a", 3800)], [rule], CTX)
    assert below.discount_total == usd(0)
    assert below.not_applied[0].reason == "Add $12.00 more to save"


def test_free_shipping_over_a_threshold_explains_the_gap() -> None:
    rule = Rule(
        "ship",
        "Free shipping over $50",
        Target(TargetKind.CART),
        Benefit(BenefitKind.FREE_SHIPPING),
        min_subtotal=usd(5000),
    )
    below = price_cart([line("a", 3800)], [rule], CTX)
    assert below.shipping_discount == usd(0)
    assert below.not_applied[0].reason == "Add $12.00 more for free shipping"
    above = price_cart([line("a", 5000)], [rule], CTX)
    assert (above.shipping, above.shipping_discount, above.total) == (usd(499), usd(499), usd(5000))


def test_the_best_of_exclusive_and_combined_offers_wins() -> None:
    small = percent_off("a-small", "5")
    other = percent_off("b-other", "5")
    exclusive = percent_off("c-big", "15", stacking=Stacking.EXCLUSIVE, priority=1)
    pricing = price_cart([line("a", 10000)], [small, other, exclusive], CTX)
    assert [d.rule_id for d in pricing.discounts] == ["c-big"]
    assert pricing.discount_total == usd(1500)
    reasons = {n.rule_id: n.code for n in pricing.not_applied}
    assert reasons == {"a-small": "NOT_COMBINABLE", "b-other": "NOT_COMBINABLE"}
    # when the combination saves more, the exclusive offer is the one left out
    weak = percent_off("c-big", "8", stacking=Stacking.EXCLUSIVE, priority=1)
    combined = price_cart([line("a", 10000)], [small, other, weak], CTX)
    assert {d.rule_id for d in combined.discounts} == {"a-small", "b-other"}
    assert combined.discount_total == usd(500 + 475)  # the second applies to what is left


def test_coupons_apply_only_when_entered_and_valid() -> None:
    coupon = percent_off("cpn", "20", coupon_code="SAVE20", usage_limit=10, per_user_limit=1)
    lines = [line("a", 1000)]
    assert price_cart(lines, [coupon], CTX).discount_total == usd(0)
    assert price_cart(lines, [coupon], CTX, coupon_codes=["save20"]).discount_total == usd(200)
    exhausted = PricingContext(
        now=NOW, currency="USD", shipping_fee=usd(0), redemptions={"cpn": 10}
    )
    refused = price_cart(lines, [coupon], exhausted, coupon_codes=["SAVE20"])
    assert refused.discount_total == usd(0)
    assert refused.not_applied[0].code == "COUPON_EXHAUSTED"
    used = PricingContext(
        now=NOW, currency="USD", shipping_fee=usd(0), user_id="u1", user_redemptions={"cpn": 1}
    )
    assert coupon_problem(coupon, used) == ("COUPON_USED", "You have already used this coupon")
    expired = dataclasses.replace(coupon, ends_at=NOW - timedelta(days=1))
    assert coupon_problem(expired, CTX) == ("COUPON_EXPIRED", "This coupon has expired")
    assert coupon_problem(None, CTX) == ("COUPON_UNKNOWN", "No such coupon")


def test_a_minimum_order_value_gates_an_offer() -> None:
    rule = percent_off("min", "10", min_subtotal=usd(2500))
    assert price_cart([line("a", 2000)], [rule], CTX).not_applied[0].reason == (
        "Add $5.00 more to use this offer"
    )
    assert price_cart([line("a", 2500)], [rule], CTX).discount_total == usd(250)


# --------------------------------------------------------------------------- properties

TARGETS = st.sampled_from(
    [
        Target(TargetKind.CART),
        Target(TargetKind.CATEGORY, frozenset({"phones"})),
        Target(TargetKind.CATEGORY, frozenset({"garden"})),
        Target(TargetKind.BRAND, frozenset({"acme"})),
        Target(TargetKind.SELLER, frozenset({"s2"})),
        Target(TargetKind.PRODUCT, frozenset({"p0", "p3"})),
    ]
)
AMOUNTS = st.integers(min_value=1, max_value=500_000)


@st.composite
def benefits(draw: st.DrawFn) -> Benefit:
    kind = draw(st.sampled_from(list(BenefitKind)))
    if kind is BenefitKind.PERCENT_OFF:
        percent = draw(st.decimals(min_value=0, max_value=100, places=2))
        return Benefit(kind, percent=percent)
    if kind is BenefitKind.AMOUNT_OFF:
        return Benefit(kind, amount=usd(draw(AMOUNTS)), per_unit=draw(st.booleans()))
    if kind is BenefitKind.BUY_X_GET_Y:
        percent = draw(st.sampled_from([Decimal(100), Decimal(50), Decimal("33.33")]))
        return Benefit(
            kind,
            buy=draw(st.integers(1, 4)),
            get=draw(st.integers(1, 3)),
            percent=percent,
        )
    if kind is BenefitKind.TIERED:
        thresholds = sorted(draw(st.lists(AMOUNTS, min_size=1, max_size=3, unique=True)))
        return Benefit(
            kind,
            tiers=tuple(
                Tier(usd(t), percent=Decimal(5 * (i + 1))) for i, t in enumerate(thresholds)
            ),
        )
    return Benefit(kind)


@st.composite
def rules(draw: st.DrawFn) -> list[Rule]:
    count = draw(st.integers(0, 6))
    return [
        Rule(
            rule_id=f"r{i}",
            label=f"Offer {i}",
            target=draw(TARGETS),
            benefit=draw(benefits()),
            priority=draw(st.integers(0, 3)),
            stacking=draw(st.sampled_from(list(Stacking))),
            min_subtotal=draw(st.none() | AMOUNTS.map(usd)),
        )
        for i in range(count)
    ]


@st.composite
def carts(draw: st.DrawFn) -> list[Line]:
    count = draw(st.integers(0, 8))
    return [
        Line(
            line_id=f"l{i}",
            product_id=f"p{draw(st.integers(0, 5))}",
            unit_price=usd(draw(st.integers(1, 200_000))),
            quantity=draw(st.integers(1, 10)),
            category_path=draw(st.sampled_from([("root", "phones"), ("root", "garden"), ()])),
            brand=draw(st.sampled_from(["Acme", "ACME", "Other"])),
            seller_id=draw(st.sampled_from(["s1", "s2", None])),
        )
        for i in range(count)
    ]


@settings(max_examples=300, deadline=None)
@given(lines=carts(), offers=rules(), shipping=st.integers(0, 2000))
def test_pricing_invariants(lines: list[Line], offers: list[Rule], shipping: int) -> None:
    context = PricingContext(now=NOW, currency="USD", shipping_fee=usd(shipping))
    pricing = price_cart(lines, offers, context)

    # a total never goes below zero, nor does any line
    assert pricing.total.amount >= 0
    assert all(lp.total.amount >= 0 for lp in pricing.lines)
    # no minor unit is created or lost: the parts add up everywhere
    line_parts = sum(d.amount.amount for lp in pricing.lines for d in lp.discounts)
    assert line_parts == pricing.discount_total.amount
    assert sum(d.amount.amount for d in pricing.discounts) == pricing.discount_total.amount
    for lp in pricing.lines:
        assert lp.total == lp.subtotal - sum((d.amount for d in lp.discounts), usd(0))
    assert pricing.total == (
        pricing.subtotal - pricing.discount_total + pricing.shipping - pricing.shipping_discount
    )
    # exclusive offers never combine with anything
    applied = {d.rule_id for d in pricing.discounts}
    if pricing.shipping_discount.amount:
        applied |= {
            r.rule_id
            for r in offers
            if r.benefit.kind is BenefitKind.FREE_SHIPPING
            and r.rule_id not in {n.rule_id for n in pricing.not_applied}
        }
    by_id = {r.rule_id: r for r in offers}
    if any(by_id[i].stacking is Stacking.EXCLUSIVE for i in applied):
        assert len(applied) == 1, applied
    # every offer is either applied or explained
    explained = {n.rule_id for n in pricing.not_applied}
    assert applied.isdisjoint(explained)
    # deterministic, and independent of the order of the lines
    assert price_cart(lines, offers, context) == pricing
    shuffled = list(lines)
    random.Random(len(lines)).shuffle(shuffled)
    assert price_cart(shuffled, list(reversed(offers)), context) == pricing
