"""Offers and coupons through the gateway: who may manage them, how they price a cart, the
coupon refusals, and redemptions under contention."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from emporium_platform.harness import GraphQLClient

from .conftest import Account, CatalogSeed, data, error, refresh, register

pytestmark = pytest.mark.workflow

OFFER_FIELDS = "id label version couponCode usageLimit redeemed ownerSellerId active"
CREATE_OFFER = f"mutation($i: CreateOfferInput!) {{ createOffer(input: $i) {{ {OFFER_FIELDS} }} }}"
UPDATE_OFFER = f"mutation($i: UpdateOfferInput!) {{ updateOffer(input: $i) {{ {OFFER_FIELDS} }} }}"
PRICED = """
  version coupons
  lines { id subtotal { amount } total { amount } discounts { offerId label amount { amount } } }
  pricing {
    subtotal { amount } discountTotal { amount } shipping { amount } shippingDiscount { amount }
    total { amount formatted }
    discounts { offerId label amount { amount } }
    notApplied { offerId label reason code }
  }
"""
CART = f"query($t: String) {{ cart(cartToken: $t) {{ {PRICED} }} }}"
ADD = f"mutation($i: CartLineInput!) {{ addToCart(input: $i) {{ {PRICED} }} }}"
APPLY = f"mutation($i: CartCouponInput!) {{ applyCoupon(input: $i) {{ {PRICED} }} }}"
REMOVE_COUPON = f"mutation($i: CartCouponInput!) {{ removeCoupon(input: $i) {{ {PRICED} }} }}"
REDEEM = """mutation($i: RedeemCouponInput!) {
  redeemCoupon(input: $i) { offerId code orderId redeemed remaining }
}"""
RELEASE = """mutation($i: RedeemCouponInput!) {
  releaseCoupon(input: $i) { redeemed remaining }
}"""


def offer(admin: Account, gateway: GraphQLClient, **fields: Any) -> dict[str, Any]:
    return data(gateway.post(CREATE_OFFER, {"i": fields}, token=admin.access_token))["createOffer"]


def code() -> str:
    import uuid

    return f"T{uuid.uuid4().hex[:10].upper()}"


def test_offers_price_the_cart_and_explain_what_does_not_apply(
    gateway: GraphQLClient, admin: Account, new_product: Any
) -> None:
    lamp, mug = new_product(3000), new_product(1000)
    lamp_deal = offer(
        admin,
        gateway,
        label="Lamp 20% off",
        target={"kind": "PRODUCT", "values": [lamp]},
        benefit={"kind": "PERCENT_OFF", "percent": 20},
    )
    shipping = offer(
        admin,
        gateway,
        label="Free shipping over $100",
        target={"kind": "PRODUCT", "values": [lamp, mug]},
        benefit={"kind": "FREE_SHIPPING"},
        minSubtotal=10000,
    )
    shopper = register(gateway)
    data(gateway.post(ADD, {"i": {"productId": lamp, "quantity": 1}}, token=shopper.access_token))
    view = data(
        gateway.post(ADD, {"i": {"productId": mug, "quantity": 2}}, token=shopper.access_token)
    )["addToCart"]
    pricing = view["pricing"]
    assert pricing["subtotal"]["amount"] == 5000
    assert {d["offerId"]: d["amount"]["amount"] for d in pricing["discounts"]} == {
        lamp_deal["id"]: 600
    }
    lamp_line = next(line for line in view["lines"] if line["id"] == lamp)
    assert lamp_line["total"]["amount"] == 2400
    not_applied = {n["offerId"]: n for n in pricing["notApplied"]}
    assert not_applied[shipping["id"]]["code"] == "BELOW_MINIMUM"
    assert not_applied[shipping["id"]]["reason"] == "Add $50.00 more for free shipping"
    assert pricing["total"]["amount"] == 5000 - 600 + pricing["shipping"]["amount"]

    view = data(
        gateway.post(ADD, {"i": {"productId": mug, "quantity": 5}}, token=shopper.access_token)
    )["addToCart"]
    assert view["pricing"]["shippingDiscount"] == view["pricing"]["shipping"]
    assert view["pricing"]["total"]["amount"] == 10000 - 600


def test_coupons_are_refused_with_a_reason_naming_the_code(
    gateway: GraphQLClient, admin: Account, new_product: Any
) -> None:
    lamp = new_product(2000)
    now = datetime.now(UTC)
    expired = offer(
        admin,
        gateway,
        label="Expired",
        target={"kind": "CART"},
        benefit={"kind": "AMOUNT_OFF", "amount": 100},
        couponCode=code(),
        startsAt=(now - timedelta(days=2)).isoformat(),
        endsAt=(now - timedelta(days=1)).isoformat(),
    )
    big_orders = offer(
        admin,
        gateway,
        label="Big orders",
        target={"kind": "CART"},
        benefit={"kind": "PERCENT_OFF", "percent": 10},
        couponCode=code(),
        minSubtotal=50000,
    )
    once = offer(
        admin,
        gateway,
        label="Once",
        target={"kind": "CART"},
        benefit={"kind": "AMOUNT_OFF", "amount": 500},
        couponCode=code(),
        usageLimit=1,
    )
    someone = register(gateway)
    data(
        gateway.post(
            REDEEM,
            {"i": {"code": once["couponCode"], "orderId": "order-1"}},
            token=someone.access_token,
        )
    )

    shopper = register(gateway)
    before = data(gateway.post(ADD, {"i": {"productId": lamp}}, token=shopper.access_token))[
        "addToCart"
    ]
    refusals = [
        ("NOPE-NOT-A-CODE", "COUPON_UNKNOWN"),
        (expired["couponCode"], "COUPON_EXPIRED"),
        (big_orders["couponCode"], "COUPON_MIN_ORDER"),
        (once["couponCode"], "COUPON_EXHAUSTED"),
        ("x", "COUPON_CODE_INVALID"),
    ]
    for entered, expected in refusals:
        refused = error(gateway.post(APPLY, {"i": {"code": entered}}, token=shopper.access_token))
        assert (refused["code"], refused["field"]) == (expected, ["input", "code"]), entered
    after = data(gateway.post(CART, {}, token=shopper.access_token))["cart"]
    assert (after["version"], after["coupons"]) == (before["version"], [])

    good = offer(
        admin,
        gateway,
        label="Five off",
        target={"kind": "CART"},
        benefit={"kind": "AMOUNT_OFF", "amount": 500},
        couponCode=code().lower(),
    )
    applied = data(
        gateway.post(APPLY, {"i": {"code": good["couponCode"].lower()}}, token=shopper.access_token)
    )["applyCoupon"]
    assert applied["coupons"] == [good["couponCode"]]
    assert applied["pricing"]["discountTotal"]["amount"] == 500
    removed = data(
        gateway.post(REMOVE_COUPON, {"i": {"code": good["couponCode"]}}, token=shopper.access_token)
    )["removeCoupon"]
    assert (removed["coupons"], removed["pricing"]["discountTotal"]["amount"]) == ([], 0)
    again = error(
        gateway.post(REMOVE_COUPON, {"i": {"code": good["couponCode"]}}, token=shopper.access_token)
    )
    assert (again["code"], again["field"]) == ("COUPON_NOT_APPLIED", ["input", "code"])


def test_the_last_redemption_is_taken_once(gateway: GraphQLClient, admin: Account) -> None:
    limited = offer(
        admin,
        gateway,
        label="Three left",
        target={"kind": "CART"},
        benefit={"kind": "AMOUNT_OFF", "amount": 100},
        couponCode=code(),
        usageLimit=3,
    )
    shopper = register(gateway)
    entered = limited["couponCode"]

    def redeem(order: int) -> dict[str, Any]:
        variables = {"i": {"code": entered, "orderId": f"order-{order}"}}
        return gateway.post(REDEEM, variables, token=shopper.access_token).json()

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(redeem, range(24)))
    taken = [o for o in outcomes if "errors" not in o]
    refused = [o["errors"][0]["extensions"] for o in outcomes if "errors" in o]
    assert len(taken) == 3
    assert sorted(o["data"]["redeemCoupon"]["redeemed"] for o in taken) == [1, 2, 3]
    assert {(r["code"], tuple(r["field"])) for r in refused} == {
        ("COUPON_EXHAUSTED", ("input", "code"))
    }

    # the same order again is the same redemption; a release frees one for another order
    first = taken[0]["data"]["redeemCoupon"]["orderId"]
    repeat = data(
        gateway.post(REDEEM, {"i": {"code": entered, "orderId": first}}, token=shopper.access_token)
    )
    assert repeat["redeemCoupon"]["redeemed"] == 3
    refused_release = error(
        gateway.post(
            RELEASE, {"i": {"code": entered, "orderId": first}}, token=shopper.access_token
        )
    )
    assert refused_release["code"] == "MISSING_SCOPE"
    released = data(
        gateway.post(RELEASE, {"i": {"code": entered, "orderId": first}}, token=admin.access_token)
    )
    assert released["releaseCoupon"] == {"redeemed": 2, "remaining": 1}
    late = data(
        gateway.post(
            REDEEM, {"i": {"code": entered, "orderId": "order-late"}}, token=shopper.access_token
        )
    )
    assert late["redeemCoupon"]["remaining"] == 0


def test_concurrent_offer_updates_are_all_kept_or_refused_by_version(
    gateway: GraphQLClient, admin: Account
) -> None:
    created = offer(
        admin,
        gateway,
        label="Edited",
        target={"kind": "CART"},
        benefit={"kind": "PERCENT_OFF", "percent": 5},
    )
    fields = {"target": {"kind": "CART"}, "benefit": {"kind": "PERCENT_OFF", "percent": 5}}

    def update(n: int, expected: int | None) -> dict[str, Any]:
        variables = {"i": {"id": created["id"], "label": f"Edit {n}", **fields}}
        if expected is not None:
            variables["i"]["expectedVersion"] = expected
        return gateway.post(UPDATE_OFFER, variables, token=admin.access_token).json()

    with ThreadPoolExecutor(6) as pool:
        blind = list(pool.map(lambda n: update(n, None), range(6)))
    assert all("errors" not in o for o in blind), blind
    current = max(o["data"]["updateOffer"]["version"] for o in blind)
    assert current == 1 + 6  # the guarded path serialised every write: none lost

    with ThreadPoolExecutor(6) as pool:
        raced = list(pool.map(lambda n: update(n, current), range(6)))
    won = [o for o in raced if "errors" not in o]
    lost = {o["errors"][0]["extensions"]["code"] for o in raced if "errors" in o}
    assert (len(won), lost) == (1, {"VERSION_CONFLICT"})


def test_only_admins_and_sellers_manage_offers_and_sellers_only_their_own(
    gateway: GraphQLClient, admin: Account, catalog_seed: CatalogSeed, new_product: Any
) -> None:
    benefit = {"kind": "PERCENT_OFF", "percent": 10}
    customer = register(gateway)
    refused = error(
        gateway.post(
            CREATE_OFFER,
            {"i": {"label": "Mine", "target": {"kind": "CART"}, "benefit": benefit}},
            token=customer.access_token,
        )
    )
    assert refused["code"] == "MISSING_ROLE"

    user = register(gateway)
    data(
        gateway.run(
            "GrantRole",
            {"userId": user.user_id, "role": "SELLER", "sellerId": catalog_seed.seller_id},
            token=admin.access_token,
        )
    )
    seller = refresh(gateway, user)
    own = new_product(1500, ownerSellerId=catalog_seed.seller_id)
    platform_owned = new_product(1500)

    mine = data(
        gateway.post(
            CREATE_OFFER,
            {
                "i": {
                    "label": "My lamp",
                    "target": {"kind": "PRODUCT", "values": [own]},
                    "benefit": benefit,
                }
            },
            token=seller.access_token,
        )
    )["createOffer"]
    assert mine["ownerSellerId"] == catalog_seed.seller_id
    theirs = error(
        gateway.post(
            CREATE_OFFER,
            {
                "i": {
                    "label": "Not mine",
                    "target": {"kind": "PRODUCT", "values": [own, platform_owned]},
                    "benefit": benefit,
                }
            },
            token=seller.access_token,
        )
    )
    assert (theirs["code"], theirs["field"]) == (
        "NOT_YOUR_PRODUCT",
        ["input", "target", "values", 1],
    )
    whole_cart = error(
        gateway.post(
            CREATE_OFFER,
            {"i": {"label": "Everything", "target": {"kind": "CART"}, "benefit": benefit}},
            token=seller.access_token,
        )
    )
    assert (whole_cart["code"], whole_cart["field"]) == (
        "SELLER_TARGET_REFUSED",
        ["input", "target", "kind"],
    )

    listed = data(gateway.post("{ offers { id } }", token=seller.access_token))["offers"]
    assert [o["id"] for o in listed] == [mine["id"]]
    admins = data(gateway.post("{ offers { id } }", token=admin.access_token))["offers"]
    assert mine["id"] in {o["id"] for o in admins}

    invalid = [
        ({"label": "", "target": {"kind": "CART"}, "benefit": benefit}, ["input", "label"]),
        (
            {
                "label": "x",
                "target": {"kind": "CART"},
                "benefit": {"kind": "PERCENT_OFF", "percent": 150},
            },
            ["input", "benefit", "percent"],
        ),
        (
            {"label": "x", "target": {"kind": "CART"}, "benefit": {"kind": "PERCENT_OFF"}},
            ["input", "benefit"],
        ),
        ({"label": "x", "target": {"kind": "BRAND"}, "benefit": benefit}, ["input", "target"]),
        (
            {"label": "x", "target": {"kind": "CART"}, "benefit": benefit, "usageLimit": 5},
            ["input"],
        ),
        (
            {"label": "x", "target": {"kind": "CART"}, "benefit": benefit, "couponCode": "a b"},
            ["input", "couponCode"],
        ),
    ]
    for fields, field in invalid:
        refused = error(gateway.post(CREATE_OFFER, {"i": fields}, token=admin.access_token))
        assert refused["field"] == field, (fields, refused)
    taken_code = code()
    offer(
        admin,
        gateway,
        label="First",
        target={"kind": "CART"},
        benefit=benefit,
        couponCode=taken_code,
    )
    duplicate = error(
        gateway.post(
            CREATE_OFFER,
            {
                "i": {
                    "label": "Second",
                    "target": {"kind": "CART"},
                    "benefit": benefit,
                    "couponCode": taken_code,
                }
            },
            token=admin.access_token,
        )
    )
    assert (duplicate["code"], duplicate["field"]) == ("COUPON_CODE_TAKEN", ["input", "couponCode"])


DEALS = "query($n: Int) { deals(first: $n) { id label target { kind values } endsAt } }"


def test_deals_are_the_offers_running_now_without_a_code_for_anyone(
    gateway: GraphQLClient, admin: Account
) -> None:
    now = datetime.now(UTC)
    # a brand nothing is sold under: these deals change no other test's cart
    nobody = {"kind": "BRAND", "values": [f"Nobody {code()}"]}
    tag = code()

    def deal(name: str, priority: int = 99, **fields: Any) -> dict[str, Any]:
        benefit = {"kind": "PERCENT_OFF", "percent": 5}
        label = f"{tag} {name}"
        return offer(
            admin, gateway, label=label, target=nobody, benefit=benefit, priority=priority, **fields
        )

    first = deal("first", endsAt=(now + timedelta(days=2)).isoformat())
    second = deal("second", priority=98)
    later = deal("later", startsAt=(now + timedelta(days=1)).isoformat())
    ended = deal(
        "ended",
        startsAt=(now - timedelta(days=2)).isoformat(),
        endsAt=(now - timedelta(days=1)).isoformat(),
    )
    coupon = deal("coupon", couponCode=code())
    paused = deal("paused", active=False)

    # anonymous, as the home page asks
    deals = data(gateway.post(DEALS, {"n": 50}))["deals"]
    ours = [deal for deal in deals if deal["label"].startswith(tag)]
    # highest priority first
    assert [deal["id"] for deal in ours] == [first["id"], second["id"]]
    assert ours[0]["target"] == nobody
    assert ours[0]["endsAt"] is not None
    assert ours[1]["endsAt"] is None
    for hidden in (later, ended, coupon, paused):
        assert hidden["id"] not in {deal["id"] for deal in deals}
    # a coupon's code and counts are not the shopper's to read here
    assert error(gateway.post("{ deals { couponCode } }"))["message"]
    refused = error(gateway.post(DEALS, {"n": 0}))
    assert refused["code"] == "INVALID_PAGE_SIZE"
    assert refused["field"] == ["first"]
    assert len(data(gateway.post(DEALS, {"n": 1}))["deals"]) == 1
