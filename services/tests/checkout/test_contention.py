"""200 buyers for the last 10 units, each through the gateway with a cart of one unit and the
whole saga: exactly 10 orders are confirmed and captured, the other 190 are cancelled as out of
stock and keep no money, and the SKU ends with nothing on hand, nothing reserved and never
less than zero available (the suite's step deadlines outlast the rush: conftest)."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from emporium_kit.testing import TokenMinter
from emporium_platform.harness import GraphQLClient, Stack
from pymongo import MongoClient
from ulid import ULID

from .conftest import ADD, CART, Shop, new_shop, stock, wait_for
from .test_checkout import place

# 200 orders through the whole saga on a shared two-core machine take minutes
pytestmark = [pytest.mark.workflow, pytest.mark.timeout(1500)]

BUYERS = 200
UNITS = 10
SETTLED = {"CONFIRMED", "CANCELLED", "PAYMENT_FAILED", "REFUNDED"}
# a cancelled order's payment settles after the order (void or refund)
PAYMENT_SETTLED = {"CAPTURED", "VOIDED", "REFUNDED", "FAILED"}


def retryable(body: dict[str, Any]) -> bool:
    """A refusal that says "retry": a service's breaker open under the rush (``UNAVAILABLE``),
    or the gateway's connection to a subgraph dropped — a keep-alive connection the subgraph
    had just closed (``SUBREQUEST_HTTP_ERROR``, which the gateway may also answer masked as
    ``INTERNAL_SERVER_ERROR``). The client cannot know whether the call ran: the idempotency
    key makes the retry safe, and the outcome is asserted exactly below."""
    extensions = body["errors"][0].get("extensions") or {}
    return extensions.get("kind") == "UNAVAILABLE" or extensions.get("code") in (
        "SUBREQUEST_HTTP_ERROR",
        "INTERNAL_SERVER_ERROR",
    )


def retried(call: Any) -> Any:
    """``call`` again on a refusal that says "retry", for up to 3 minutes, as a client does;
    the body of the first other answer (or of a sold-out refusal)."""
    deadline = time.monotonic() + 180
    while True:
        body = call().json()
        if not body.get("errors") or sold_out(body):
            return body
        assert retryable(body), body
        assert time.monotonic() < deadline, f"still refused: {body}"
        time.sleep(1)


# the shop saying "sold out" before the buyer could even place: the catalog learns the SKU's
# stock from the inventory, and the cart refuses to add or order a product out of stock
SOLD_OUT = {
    ("PRODUCT_UNAVAILABLE", ("input", "productId")),
    ("LINE_UNAVAILABLE", ("cart", "lines", 0)),
}


def sold_out(body: dict[str, Any]) -> bool:
    extensions = body["errors"][0].get("extensions") or {}
    return (extensions.get("code"), tuple(extensions.get("field") or ())) in SOLD_OUT


def buy(gateway: GraphQLClient, token: str, shop: Shop) -> str | None:
    """One unit into the buyer's cart, then the order (retried with the same idempotency
    key); ``None`` when the shop already showed the product sold out. An add whose answer
    was lost may have been applied: the cart says."""
    while not retried(lambda: gateway.post(CART, token=token))["data"]["cart"]["lines"]:
        added = gateway.post(ADD, {"p": shop.product_id, "q": 1}, token=token).json()
        if added.get("errors") and sold_out(added):
            return None
        assert not added.get("errors") or retryable(added), added
    key = f"key-{ULID()}"
    body = retried(lambda: place(gateway, token, key=key))
    if body.get("errors"):
        return None
    order_id: str = body["data"]["placeOrder"]["id"]
    return order_id


def test_200_buyers_for_the_last_10_units(
    gateway: GraphQLClient, stack: Stack, minter: TokenMinter
) -> None:
    # a product of its own: no order of another test still on its way takes a unit
    shop = new_shop(gateway, minter)
    shop.restock(gateway, UNITS)
    tokens = [minter.mint(f"rush-{ULID()}", ["customer"]) for _ in range(BUYERS)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(lambda token: buy(gateway, token, shop), tokens))
    placed = [order_id for order_id in outcomes if order_id is not None]
    assert len(set(placed)) == len(placed) >= UNITS

    with MongoClient(stack.platform.mongo_url) as client:
        orders = client[stack.database("order")]["orders"]
        payments = client[stack.database("payment")]["payments"]
        deadline = time.monotonic() + 1200
        while True:
            found = {
                doc["_id"]: doc
                for doc in orders.find({"_id": {"$in": placed}}, {"status": 1, "cancel_reason": 1})
            }
            paid_now = list(payments.find({"_id": {"$in": placed}}, {"status": 1}))
            # never oversold, at any moment of the rush
            assert stock(gateway, shop.sku)["available"] >= 0
            if all(doc["status"] in SETTLED for doc in found.values()) and all(
                doc["status"] in PAYMENT_SETTLED for doc in paid_now
            ):
                break
            assert time.monotonic() < deadline, Counter(d["status"] for d in found.values())
            time.sleep(5)
        outcome = Counter(d["status"] for d in found.values())
        confirmed = {i for i, d in found.items() if d["status"] == "CONFIRMED"}
        assert len(confirmed) == UNITS, outcome
        # every other order failed cleanly, for the one real reason
        reasons = Counter(d.get("cancel_reason") for i, d in found.items() if i not in confirmed)
        assert reasons == {"out_of_stock": len(placed) - UNITS}, reasons
        paid = Counter(
            (doc["_id"] in confirmed, doc["status"])
            for doc in payments.find({"_id": {"$in": placed}}, {"status": 1})
        )
    # money was kept exactly for the confirmed orders: every other authorisation voided
    assert paid == {(True, "CAPTURED"): UNITS, (False, "VOIDED"): len(placed) - UNITS}, paid
    # every unit sold, nothing left held
    wait_for(lambda: stock(gateway, shop.sku) == {"onHand": 0, "reserved": 0, "available": 0})
