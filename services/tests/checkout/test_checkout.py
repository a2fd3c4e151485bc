"""Checkout through the gateway: placeOrder, then the saga across payment (stripe-mock and its
signed webhooks), inventory and order, to CONFIRMED or a clean cancellation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from emporium_platform.harness import GraphQLClient
from ulid import ULID

from .conftest import Shop, data, stock, wait_for

pytestmark = pytest.mark.workflow

PLACE = """
mutation($i: PlaceOrderInput!) {
  placeOrder(input: $i) {
    id status totalAmount currency items { sku quantity priceAtPurchase { amount } }
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
    shop: Shop,
    quantity: int,
    *,
    key: str | None = None,
    method: str | None = None,
    email: str | None = None,
) -> Any:
    variables = {
        "i": {
            **({"email": email} if email else {}),
            "lines": [{"productId": shop.product_id, "sku": shop.sku, "quantity": quantity}],
            "shippingAddress": ADDRESS,
            "idempotencyKey": key or f"key-{ULID()}",
            **({"paymentMethod": method} if method else {}),
        }
    }
    return gateway.post(PLACE, variables, token=token)


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
    placed = data(place(gateway, buyer, shop, 2, key=key, email=to))["placeOrder"]
    assert (placed["status"], placed["totalAmount"], placed["currency"]) == ("PENDING", 5000, "EUR")
    assert placed["items"] == [
        {"sku": shop.sku, "quantity": 2, "priceAtPurchase": {"amount": 2500}}
    ]

    done = settled(gateway, buyer, placed["id"], "CONFIRMED")
    assert [c["status"] for c in done["order"]["statusHistory"]] == [
        "PENDING",
        "AWAITING_PAYMENT",
        "AUTHORISED",
        "RESERVED",
        "CONFIRMED",
    ]
    assert done["orderPayment"] == {"status": "CAPTURED", "amount": 5000}
    wait_for(lambda: stock(gateway, shop.sku) == {"onHand": 3, "reserved": 0, "available": 3})
    [mail] = wait_for(lambda: mails_to(platform, to))
    assert mail["Subject"] == "Your order is confirmed"

    again = data(place(gateway, buyer, shop, 2, key=key, email=to))["placeOrder"]
    assert again["id"] == placed["id"]
    reused = place(gateway, buyer, shop, 1, key=key, email=to).json()["errors"][0]["extensions"]
    assert (reused["code"], reused["field"]) == (
        "IDEMPOTENCY_KEY_REUSED",
        ["input", "idempotencyKey"],
    )


def test_out_of_stock_cancels_and_nothing_is_captured(
    gateway: GraphQLClient, shop: Shop, buyer: str
) -> None:
    shop.restock(gateway, 1)
    placed = data(place(gateway, buyer, shop, 3))["placeOrder"]
    done = settled(gateway, buyer, placed["id"], "CANCELLED")
    assert done["order"]["cancelReason"] == "out_of_stock"
    wait_for(
        lambda: (
            data(gateway.post(ORDER, {"id": placed["id"]}, token=buyer))["orderPayment"]["status"]
            == "VOIDED"
        )
    )
    assert stock(gateway, shop.sku) == {"onHand": 1, "reserved": 0, "available": 1}


def test_a_declined_card_fails_the_order_and_holds_no_stock(
    gateway: GraphQLClient, shop: Shop, buyer: str, platform: Any
) -> None:
    shop.restock(gateway, 4)
    to = f"buyer-{str(ULID()).lower()}@example.test"
    declined = place(gateway, buyer, shop, 1, method="pm_card_chargeDeclined", email=to)
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
    placed = data(place(gateway, buyer, shop, 1))["placeOrder"]
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
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda _: place(gateway, buyer, shop, 1, key=key), range(20)))
    ids = {data(reply)["placeOrder"]["id"] for reply in replies}
    assert len(ids) == 1
    settled(gateway, buyer, ids.pop(), "CONFIRMED")
    mine = data(gateway.post("{ myOrders { id } }", token=buyer))["myOrders"]
    assert len(mine) == 1
