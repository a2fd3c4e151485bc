"""The cart's own rules without infrastructure: the changes, the merge, the inputs, offers
as engine rules, and the SSE framing the gateway reads."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from emporium_cart import carts, checkout, pricing
from emporium_cart.carts import Limits, merge_docs
from emporium_cart.events import HANDLERS, ORDER_HANDLERS, events
from emporium_cart.models import (
    CouponInput,
    LineInput,
    MoneyView,
    OfferCreate,
    OrderLineView,
    OrderView,
    ProductState,
)
from emporium_cart.offers import to_rule
from emporium_cart.settings import CartSettings
from emporium_kit.errors import DomainError, ValidationFailed, parse_input
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

LIMITS = Limits(max_quantity=5, max_lines=2, max_coupons=1)


def state(product_id: str = "p1", **fields: object) -> ProductState:
    base = {
        "id": product_id,
        "name": "Lamp",
        "category_id": "c1",
        "price": MoneyView(amount=1000, currency="USD"),
        "availability": "IN_STOCK",
        "status": "ACTIVE",
        "version": 1,
    }
    return ProductState.model_validate({**base, **fields})


def cart(*lines: tuple[str, int]) -> dict:
    return {
        "id": "u-1",
        "owner": "1",
        "version": 3,
        "lines": [
            {"product_id": p, "quantity": q, "added_price": {"amount": 1000, "currency": "USD"}}
            for p, q in lines
        ],
        "saved": [],
        "coupons": [],
    }


def refused(change: carts.Change, doc: dict) -> DomainError:
    with pytest.raises(DomainError) as caught:
        change(doc)
    return caught.value


def test_adding_counts_what_the_line_holds_and_respects_the_bounds() -> None:
    doc = carts.add_line(state(), 2, LIMITS)(cart(("p1", 2)))
    assert doc["lines"][0]["quantity"] == 4
    too_many = refused(carts.add_line(state(), 2, LIMITS), cart(("p1", 4)))
    assert (too_many.code, too_many.field) == ("QUANTITY_TOO_LARGE", ["input", "quantity"])
    full = refused(carts.add_line(state("p3"), 1, LIMITS), cart(("p1", 1), ("p2", 1)))
    assert (full.code, full.field) == ("CART_FULL", ["input", "productId"])


def test_products_that_cannot_be_ordered_are_refused_naming_the_field() -> None:
    at = ["input", "productId"]
    cases = [
        (None, "PRODUCT_NOT_FOUND"),
        (state(status="ARCHIVED"), "PRODUCT_ARCHIVED"),
        (state(availability="OUT_OF_STOCK"), "PRODUCT_UNAVAILABLE"),
        (state(availability="DISCONTINUED"), "PRODUCT_UNAVAILABLE"),
        (state(price=MoneyView(amount=1, currency="EUR")), "PRODUCT_CURRENCY"),
    ]
    for product, code in cases:
        with pytest.raises(DomainError) as caught:
            carts.check_orderable(product, "p1", "USD", at)
        assert (caught.value.code, caught.value.field) == (code, at)
    assert carts.check_orderable(state(availability="PREORDER"), "p1", "USD", at).id == "p1"


def test_save_for_later_and_back_keeps_the_line() -> None:
    saved = carts.save_for_later("p1", LIMITS)(cart(("p1", 2)))
    assert (saved["lines"], [s["quantity"] for s in saved["saved"]]) == ([], [2])
    back = carts.move_to_cart("p1", LIMITS, state(), "USD")(saved)
    assert ([line["quantity"] for line in back["lines"]], back["saved"]) == ([2], [])
    missing = refused(carts.move_to_cart("p9", LIMITS, state("p9"), "USD"), saved)
    assert missing.code == "LINE_NOT_FOUND"


def test_a_catalog_change_touches_only_carts_holding_the_product() -> None:
    assert carts.touch("p1")(cart(("p1", 1))) is not None
    assert carts.touch("p2")(cart(("p1", 1))) is None
    assert carts.touch("p1")({**cart(("p1", 1)), "merged_into": "u"}) is None


def test_the_merge_adds_quantities_within_the_limits_and_reports_each_line() -> None:
    settings = CartSettings(cart_max_line_quantity=5, cart_max_lines=2, cart_max_coupons=1)
    target = {**cart(("p1", 4)), "coupons": ["A"]}
    source = {**cart(("p1", 3), ("p2", 1), ("p3", 2)), "coupons": ["B"]}
    merged, report = merge_docs(target, source, settings)
    assert {line["product_id"]: line["quantity"] for line in merged["lines"]} == {"p1": 5, "p2": 1}
    outcomes = {line["product_id"]: (line["outcome"], line["added"]) for line in report.lines}
    assert outcomes == {"p1": ("CAPPED", 1), "p2": ("MERGED", 1), "p3": ("DROPPED", 0)}
    assert (merged["coupons"], report.coupons) == (["A"], [])


@given(
    st.lists(
        st.tuples(st.sampled_from("abcdef"), st.integers(1, 99)),
        max_size=6,
        unique_by=lambda t: t[0],
    ),
    st.lists(
        st.tuples(st.sampled_from("abcdef"), st.integers(1, 99)),
        max_size=6,
        unique_by=lambda t: t[0],
    ),
)
def test_a_merge_never_exceeds_a_limit_and_never_loses_a_unit_it_could_keep(
    ours: list[tuple[str, int]], guest: list[tuple[str, int]]
) -> None:
    settings = CartSettings(cart_max_line_quantity=99, cart_max_lines=4)
    merged, report = merge_docs(cart(*ours[:4]), cart(*guest), settings)
    quantities = {line["product_id"]: line["quantity"] for line in merged["lines"]}
    assert len(quantities) <= 4
    assert all(1 <= q <= 99 for q in quantities.values())
    before = dict(ours[:4])
    for line in report.lines:
        if line["outcome"] != "DROPPED":
            expected = min(99, before.get(line["product_id"], 0) + line["requested"])
            assert quantities[line["product_id"]] == expected


def test_inputs_are_bounded() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_input(LineInput, {"product_id": "p", "quantity": 0}, at=["input"])
    assert caught.value.field == ["input", "quantity"]
    with pytest.raises(ValidationFailed) as caught:
        parse_input(LineInput, {"product_id": "p", "cart_token": "short"}, at=["input"])
    assert caught.value.field == ["input", "cartToken"]
    assert parse_input(CouponInput, {"code": " welcome10 "}).code == "WELCOME10"


def test_an_offer_becomes_an_engine_rule() -> None:
    data = OfferCreate.model_validate(
        {
            "label": "Tiered",
            "target": {"kind": "CATEGORY", "values": ["c1"]},
            "benefit": {
                "kind": "TIERED",
                "tiers": [{"threshold": 100, "percent": "5"}, {"threshold": 200, "amount": 50}],
            },
            "coupon_code": "save",
            "usage_limit": 3,
            "ends_at": datetime(2030, 1, 1, tzinfo=UTC),
        }
    )
    doc = {"_id": "o1", **data.model_dump()}
    doc["benefit"]["tiers"][0]["percent"] = "5"
    rule = to_rule(doc, "USD")
    assert rule.coupon_code == "SAVE"
    assert rule.target == pricing.Target(pricing.TargetKind.CATEGORY, frozenset({"c1"}))
    assert rule.benefit.tiers[0].percent == Decimal(5)
    assert rule.benefit.tiers[1].amount is not None
    assert rule.benefit.tiers[1].amount.amount == 50


def test_it_consumes_the_catalog_product_events_and_the_orders_outcomes() -> None:
    assert sorted(spec.subject for spec in events.consumed) == [
        "emporium.catalog.CategoryChanged",
        "emporium.catalog.PriceChanged",
        "emporium.catalog.ProductArchived",
        "emporium.catalog.ProductCreated",
        "emporium.catalog.ProductUpdated",
        "emporium.order.OrderCancelled",
        "emporium.order.OrderConfirmed",
        "emporium.order.OrderPaymentFailed",
    ]
    assert {*HANDLERS, *ORDER_HANDLERS} == set(events.consumed)
    assert not events.published


def test_a_confirmed_order_takes_its_units_out_of_the_cart_once() -> None:
    order = OrderView(
        order_id="ord_1",
        user_id="u1",
        lines=[
            OrderLineView(product_id="p1", quantity=2),
            OrderLineView(product_id="p2", quantity=1),
        ],
        coupons=["SAVE5"],
    )
    cart = {
        "id": "u-u1",
        "owner": "u1",
        "version": 7,
        "lines": [
            {"product_id": "p1", "quantity": 3},  # one unit added after placing
            {"product_id": "p2", "quantity": 1},
            {"product_id": "p3", "quantity": 1},
        ],
        "saved": [],
        "coupons": ["SAVE5", "OTHER"],
    }
    change = checkout.remove_ordered(order)
    after = change(cart)
    assert after is not None
    assert [(line["product_id"], line["quantity"]) for line in after["lines"]] == [
        ("p1", 1),
        ("p3", 1),
    ]
    assert after["coupons"] == ["OTHER"]
    assert after["orders"] == ["ord_1"]
    # the same order again (a redelivery) changes nothing, nor does a cart never written
    assert change(after) is None
    assert change({**cart, "version": 0, "lines": []}) is None
