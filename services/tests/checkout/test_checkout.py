"""Checkout through the gateway: the buyer fills the cart, placeOrder orders it at the cart's
pricing, then the saga across payment (stripe-mock and its signed webhooks), inventory and
order runs to CONFIRMED (the ordered units leave the cart) or a clean cancellation (the
coupons are given back)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from emporium_kit.testing import TokenMinter
from emporium_platform.harness import GraphQLClient
from ulid import ULID

from .conftest import Shop, add_to_cart, cart_of, data, stock, wait_for

pytestmark = pytest.mark.workflow

PLACE = """
mutation($i: PlaceOrderInput!) {
  placeOrder(input: $i) {
    id status totalAmount currency coupons
    items { name sku sellerId quantity priceAtPurchase { amount } discounts { amount } total }
    pricing { subtotal discountTotal shipping shippingDiscount total }
  }
}
"""
ORDER = """
query($id: ID!) {
  order(id: $id) { id status cancelReason statusHistory { status cause } }
  orderPayment(orderId: $id) { status amount }
}
"""
CANCEL = "mutation($id: ID!) { cancelOrder(id: $id) { status } }"
ADDRESS = {
    "name": "Ada Buyer",
    "line1": "1 Market Street",
    "city": "Berlin",
    "postalCode": "10115",
    "country": "DE",
}


def place(
    gateway: GraphQLClient,
    token: str,
    *,
    key: str | None = None,
    method: str | None = None,
    email: str | None = None,
) -> Any:
    """Order the buyer's cart."""
    variables = {
        "i": {
            **({"email": email} if email else {}),
            "shippingAddress": ADDRESS,
            "idempotencyKey": key or f"key-{ULID()}",
            **({"paymentMethod": method} if method else {}),
        }
    }
    return gateway.post(PLACE, variables, token=token)


def buy(gateway: GraphQLClient, token: str, shop: Shop, quantity: int, **options: Any) -> Any:
    """Put ``quantity`` units in the buyer's cart and order it."""
    add_to_cart(gateway, token, shop.product_id, quantity)
    return place(gateway, token, **options)


def settled(gateway: GraphQLClient, token: str, order_id: str, status: str) -> dict[str, Any]:
    def check() -> Any:
        found = data(gateway.post(ORDER, {"id": order_id}, token=token))
        return found if found["order"]["status"] == status else None

    return wait_for(check)


def mails_to(platform: Any, to: str) -> list[dict[str, Any]]:
    found = httpx.get(
        f"{platform.config.mailpit_url}/api/v1/search", params={"query": f"to:{to}"}, timeout=10
    ).json()
    return found["messages"]


def test_a_checkout_reaches_confirmed_and_commits_the_stock(
    gateway: GraphQLClient, shop: Shop, buyer: str, platform: Any
) -> None:
    shop.restock(gateway, 5)
    key = f"key-{ULID()}"
    to = f"buyer-{str(ULID()).lower()}@example.test"
    add_to_cart(gateway, buyer, shop.product_id, 2)
    assert cart_of(gateway, buyer)["lines"] == [
        {"id": shop.product_id, "sku": shop.sku, "sellerId": shop.seller_id, "quantity": 2}
    ]
    placed = data(place(gateway, buyer, key=key, email=to))["placeOrder"]
    # the cart's pricing: 2 x $25.00 and the flat shipping fee
    assert (placed["status"], placed["totalAmount"], placed["currency"]) == ("PENDING", 5599, "USD")
    assert placed["pricing"] == {
        "subtotal": 5000,
        "discountTotal": 0,
        "shipping": 599,
        "shippingDiscount": 0,
        "total": 5599,
    }
    assert placed["items"] == [
        {
            "name": shop.name,
            "sku": shop.sku,
            "sellerId": shop.seller_id,
            "quantity": 2,
            "priceAtPurchase": {"amount": 2500},
            "discounts": [],
            "total": 5000,
        }
    ]

    done = settled(gateway, buyer, placed["id"], "CONFIRMED")
    assert [c["status"] for c in done["order"]["statusHistory"]] == [
        "PENDING",
        "AWAITING_PAYMENT",
        "AUTHORISED",
        "RESERVED",
        "CONFIRMED",
    ]
    assert done["orderPayment"] == {"status": "CAPTURED", "amount": 5599}
    wait_for(lambda: stock(gateway, shop.sku) == {"onHand": 3, "reserved": 0, "available": 3})
    [mail] = wait_for(lambda: mails_to(platform, to))
    assert mail["Subject"] == "Your order is confirmed"
    # the confirmed order's units left the cart
    wait_for(lambda: cart_of(gateway, buyer)["lines"] == [])

    again = data(place(gateway, buyer, key=key, email=to))["placeOrder"]
    assert again["id"] == placed["id"]
    add_to_cart(gateway, buyer, shop.product_id, 1)
    reused = place(gateway, buyer, key=key, email=to).json()["errors"][0]["extensions"]
    assert (reused["code"], reused["field"]) == (
        "IDEMPOTENCY_KEY_REUSED",
        ["input", "idempotencyKey"],
    )


def test_an_empty_cart_is_refused_naming_the_field(gateway: GraphQLClient, buyer: str) -> None:
    refused = place(gateway, buyer).json()["errors"][0]["extensions"]
    assert (refused["code"], refused["field"]) == ("CART_EMPTY", ["cart", "lines"])


def test_lines_added_after_placing_stay_in_the_cart(
    gateway: GraphQLClient, shop: Shop, buyer: str
) -> None:
    shop.restock(gateway, 5)
    placed = data(buy(gateway, buyer, shop, 2))["placeOrder"]
    add_to_cart(gateway, buyer, shop.product_id, 1)  # while the order is on its way
    settled(gateway, buyer, placed["id"], "CONFIRMED")
    wait_for(lambda: [line["quantity"] for line in cart_of(gateway, buyer)["lines"]] == [1])


def test_out_of_stock_cancels_and_nothing_is_captured(
    gateway: GraphQLClient, shop: Shop, buyer: str
) -> None:
    shop.restock(gateway, 1)
    placed = data(buy(gateway, buyer, shop, 3))["placeOrder"]
    done = settled(gateway, buyer, placed["id"], "CANCELLED")
    assert done["order"]["cancelReason"] == "out_of_stock"
    wait_for(
        lambda: (
            data(gateway.post(ORDER, {"id": placed["id"]}, token=buyer))["orderPayment"]["status"]
            == "VOIDED"
        )
    )
    assert stock(gateway, shop.sku) == {"onHand": 1, "reserved": 0, "available": 1}
    # a failed checkout leaves the cart as it was
    assert [line["quantity"] for line in cart_of(gateway, buyer)["lines"]] == [3]


def test_a_declined_card_fails_the_order_and_holds_no_stock(
    gateway: GraphQLClient, shop: Shop, buyer: str, platform: Any
) -> None:
    shop.restock(gateway, 4)
    to = f"buyer-{str(ULID()).lower()}@example.test"
    declined = buy(gateway, buyer, shop, 1, method="pm_card_chargeDeclined", email=to)
    placed = data(declined)["placeOrder"]
    done = settled(gateway, buyer, placed["id"], "PAYMENT_FAILED")
    assert done["order"]["cancelReason"] == "generic_decline"
    assert done["orderPayment"]["status"] == "FAILED"
    assert stock(gateway, shop.sku) == {"onHand": 4, "reserved": 0, "available": 4}
    [mail] = wait_for(lambda: mails_to(platform, to))
    assert mail["Subject"] == "Your payment did not go through"


def test_cancelling_a_confirmed_order_refunds_it(
    gateway: GraphQLClient, shop: Shop, buyer: str
) -> None:
    shop.restock(gateway, 2)
    placed = data(buy(gateway, buyer, shop, 1))["placeOrder"]
    settled(gateway, buyer, placed["id"], "CONFIRMED")
    assert data(gateway.post(CANCEL, {"id": placed["id"]}, token=buyer))["cancelOrder"] == {
        "status": "CANCELLED"
    }
    done = settled(gateway, buyer, placed["id"], "REFUNDED")
    assert done["orderPayment"]["status"] == "REFUNDED"
    # the unit is back on hand
    wait_for(lambda: stock(gateway, shop.sku) == {"onHand": 2, "reserved": 0, "available": 2})
    illegal = gateway.post(CANCEL, {"id": placed["id"]}, token=buyer).json()["errors"][0]
    assert illegal["extensions"]["code"] == "ILLEGAL_TRANSITION"


def test_twenty_parallel_placements_with_one_key_make_one_order(
    gateway: GraphQLClient, shop: Shop, buyer: str
) -> None:
    shop.restock(gateway, 3)
    key = f"key-{ULID()}"
    add_to_cart(gateway, buyer, shop.product_id, 1)
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda _: place(gateway, buyer, key=key), range(20)))
    ids = {data(reply)["placeOrder"]["id"] for reply in replies}
    assert len(ids) == 1
    settled(gateway, buyer, ids.pop(), "CONFIRMED")
    mine = data(gateway.post("{ myOrders { id } }", token=buyer))["myOrders"]
    assert len(mine) == 1


CREATE_COUPON = """
mutation($i: CreateOfferInput!) { createOffer(input: $i) { id couponCode } }
"""
APPLY = "mutation($c: String!) { applyCoupon(input: {code: $c}) { appliedCoupons } }"
REDEEMED = "query($id: ID!) { offer(id: $id) { redeemed } }"


def test_concurrent_orders_never_take_more_than_a_coupons_limit(
    gateway: GraphQLClient, shop: Shop, minter: TokenMinter
) -> None:
    """8 buyers with the same coupon (limited to 2 redemptions) place at once: exactly 2
    orders carry it; each other placement is refused naming the coupon, or, when it read a
    cart already priced without the used-up coupon, placed at full price. A cancelled order
    gives its redemption back (the cart consumes ``OrderCancelled``)."""
    shop.restock(gateway, 20)
    code = f"CO{str(ULID())[-10:]}"
    coupon = data(
        gateway.post(
            CREATE_COUPON,
            {
                "i": {
                    "label": "Five off",
                    "target": {"kind": "CART"},
                    "benefit": {"kind": "AMOUNT_OFF", "amount": 500},
                    "couponCode": code,
                    "usageLimit": 2,
                }
            },
            token=shop.admin,
        )
    )["createOffer"]
    buyers = [minter.mint(f"coupon-{ULID()}", ["customer"]) for _ in range(8)]
    for token in buyers:
        add_to_cart(gateway, token, shop.product_id, 1)
        assert data(gateway.post(APPLY, {"c": code}, token=token))["applyCoupon"] == {
            "appliedCoupons": [code]
        }
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = [r.json() for r in pool.map(lambda token: place(gateway, token), buyers)]

    orders = [r["data"]["placeOrder"] for r in replies if not r.get("errors")]
    refused = [r["errors"][0]["extensions"] for r in replies if r.get("errors")]
    with_coupon = [o for o in orders if o["coupons"] == [code]]
    assert len(with_coupon) == 2, replies
    for order in with_coupon:
        assert order["pricing"]["discountTotal"] == 500
        assert order["totalAmount"] == 2500 - 500 + 599
        assert order["items"][0]["discounts"] == [{"amount": 500}]
    assert all(o["totalAmount"] == 2500 + 599 for o in orders if o not in with_coupon)
    assert {(e["code"], tuple(e["field"])) for e in refused} <= {
        ("COUPON_EXHAUSTED", ("cart", "appliedCoupons", 0))
    }

    def redeemed() -> int:
        answer = data(gateway.post(REDEEMED, {"id": coupon["id"]}, token=shop.admin))
        return int(answer["offer"]["redeemed"])

    assert redeemed() == 2

    # cancelling a coupon order gives its redemption back
    placed = [(r.get("data") or {}).get("placeOrder") for r in replies]
    winner = buyers[placed.index(with_coupon[0])]
    assert data(gateway.post(CANCEL, {"id": with_coupon[0]["id"]}, token=winner))
    wait_for(lambda: redeemed() == 1)
    # the others run their saga to the end before the next test counts the shop's stock
    for order in orders:
        if order is not with_coupon[0]:
            settled(gateway, buyers[placed.index(order)], order["id"], "CONFIRMED")
