"""Live cart updates through the gateway: a change made through one gateway and cart replica
reaches a subscriber connected through the other, and a subscriber only hears of its own cart."""

from __future__ import annotations

import time
from typing import Any

import pytest
from emporium_platform.harness import GraphQLClient

from .conftest import Subscription, data, register

pytestmark = pytest.mark.workflow

UPDATED = """subscription($t: String) {
  cartUpdated(cartToken: $t) { id version lines { id quantity product { id name } } }
}"""
ADD = "mutation($i: CartLineInput!) { addToCart(input: $i) { version } }"
CREATE_GUEST = "mutation { createGuestCart { token cart { version } } }"


def version_at_least(version: int) -> Any:
    return lambda payload: (
        payload.get("data", {}).get("cartUpdated", {}).get("version", -1) >= version
    )


def test_a_change_on_one_replica_reaches_a_subscriber_on_the_other_within_a_second(
    gateway: GraphQLClient, gateway_b: GraphQLClient, new_product: Any
) -> None:
    lamp = new_product(1200)
    shopper, stranger = register(gateway), register(gateway)
    first = data(gateway.post(ADD, {"i": {"productId": lamp}}, token=shopper.access_token))[
        "addToCart"
    ]
    data(gateway.post(ADD, {"i": {"productId": lamp}}, token=stranger.access_token))

    mine = Subscription(gateway_b.url, UPDATED, {}, token=shopper.access_token)
    theirs = Subscription(gateway_b.url, UPDATED, {}, token=stranger.access_token)
    try:
        # the cart as it is now, with its product resolved through the catalog
        now = mine.until(version_at_least(first["version"]))["data"]["cartUpdated"]
        assert now["lines"] == [
            {
                "id": lamp,
                "quantity": 1,
                "product": {"id": lamp, "name": now["lines"][0]["product"]["name"]},
            }
        ]
        assert now["lines"][0]["product"]["name"].startswith("Cart Lamp")
        stranger_now = theirs.until(version_at_least(1))["data"]["cartUpdated"]

        for expected_quantity in (2, 3):
            started = time.monotonic()
            written = data(
                gateway.post(ADD, {"i": {"productId": lamp}}, token=shopper.access_token)
            )["addToCart"]
            update = mine.until(version_at_least(written["version"]), timeout_s=5)["data"][
                "cartUpdated"
            ]
            assert time.monotonic() - started < 1.0
            assert update["lines"][0]["quantity"] == expected_quantity
        # the other shopper's subscription heard nothing of it
        with pytest.raises(Exception):  # noqa: B017, PT011 - queue.Empty: no event
            theirs.next(timeout_s=1)
        assert stranger_now["id"] != now["id"]
    finally:
        mine.close()
        theirs.close()


def test_a_guest_subscribes_with_its_token_and_nobody_without_one(
    gateway: GraphQLClient, gateway_b: GraphQLClient, new_product: Any
) -> None:
    lamp = new_product(800)
    token = data(gateway.post(CREATE_GUEST))["createGuestCart"]["token"]
    watcher = Subscription(gateway.url, UPDATED, {"t": token})
    anonymous = Subscription(gateway.url, UPDATED, {})
    bogus = Subscription(gateway.url, UPDATED, {"t": "y" * 43})
    try:
        assert watcher.until(version_at_least(1))["data"]["cartUpdated"]["lines"] == []
        written = data(
            gateway_b.post(ADD, {"i": {"cartToken": token, "productId": lamp, "quantity": 4}})
        )["addToCart"]
        update = watcher.until(version_at_least(written["version"]))["data"]["cartUpdated"]
        assert update["lines"][0]["quantity"] == 4

        refused = anonymous.next()
        assert refused["errors"][0]["extensions"]["code"] == "CART_TOKEN_REQUIRED"
        unknown = bogus.next()
        assert unknown["errors"][0]["extensions"]["code"] == "CART_NOT_FOUND"
    finally:
        watcher.close()
        anonymous.close()
        bogus.close()
