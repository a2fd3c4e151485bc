"""Carts through the gateway: guest and account carts, merge, bounds, concurrency, prices.

Everything runs as real processes (conftest): identity, catalog, two cart replicas, two
gateways. Prices reach the cart from the catalog's events, or through its subgraph on a miss.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from emporium_platform.harness import GraphQLClient

from .conftest import Account, data, error, register, wait_for

pytestmark = pytest.mark.workflow

CART_FIELDS = """
  id version itemCount coupons
  lines {
    id quantity available availability priceChange name
    unitPrice { amount } unitPriceAtAdd { amount } subtotal { amount }
  }
  savedForLater { id quantity }
  pricing { subtotal { amount } total { amount } shipping { amount } }
"""
CART = f"query($t: String) {{ cart(cartToken: $t) {{ {CART_FIELDS} }} }}"
CREATE_GUEST = "mutation { createGuestCart { token cart { id version } } }"
ADD = f"""mutation($i: CartLineInput!) {{ addToCart(input: $i) {{ {CART_FIELDS} }} }}"""
SET = (
    f"""mutation($i: CartQuantityInput!) {{ setCartLineQuantity(input: $i) {{ {CART_FIELDS} }} }}"""
)
REMOVE = f"""mutation($i: CartProductInput!) {{ removeFromCart(input: $i) {{ {CART_FIELDS} }} }}"""
SAVE = f"""mutation($i: CartProductInput!) {{ saveForLater(input: $i) {{ {CART_FIELDS} }} }}"""
MOVE = f"""mutation($i: CartProductInput!) {{ moveToCart(input: $i) {{ {CART_FIELDS} }} }}"""
CLEAR = f"""mutation($i: CartInput) {{ clearCart(input: $i) {{ {CART_FIELDS} }} }}"""
MERGE = f"""mutation($t: String!) {{
  mergeCart(guestToken: $t) {{
    alreadyMerged coupons
    lines {{ productId requested added quantity outcome reason }}
    cart {{ {CART_FIELDS} }}
  }}
}}"""
ME = """{ me { id cart { version lines { id quantity product { id name price { amount } } } } } }"""


def guest(gateway: GraphQLClient) -> str:
    return data(gateway.post(CREATE_GUEST))["createGuestCart"]["token"]


def cart(
    gateway: GraphQLClient, *, token: str | None = None, account: Account | None = None
) -> dict[str, Any]:
    return data(gateway.post(CART, {"t": token}, token=account.access_token if account else None))[
        "cart"
    ]


def lines(view: dict[str, Any]) -> dict[str, int]:
    return {line["id"]: line["quantity"] for line in view["lines"]}


def test_a_guest_cart_merges_into_the_account_on_sign_in(
    gateway: GraphQLClient, new_product: Any
) -> None:
    lamp, mug = new_product(1999), new_product(500)
    token = guest(gateway)
    data(gateway.post(ADD, {"i": {"cartToken": token, "productId": lamp, "quantity": 2}}))
    data(gateway.post(ADD, {"i": {"cartToken": token, "productId": mug, "quantity": 98}}))

    shopper = register(gateway)
    data(gateway.post(ADD, {"i": {"productId": mug, "quantity": 5}}, token=shopper.access_token))
    merged = data(gateway.post(MERGE, {"t": token}, token=shopper.access_token))["mergeCart"]
    report = {line["productId"]: line for line in merged["lines"]}
    assert report[lamp] | {"reason": None} == {
        "productId": lamp,
        "requested": 2,
        "added": 2,
        "quantity": 2,
        "outcome": "MERGED",
        "reason": None,
    }
    assert (report[mug]["outcome"], report[mug]["added"], report[mug]["quantity"]) == (
        "CAPPED",
        94,
        99,
    )
    assert lines(merged["cart"]) == {lamp: 2, mug: 99}
    assert merged["cart"]["pricing"]["subtotal"]["amount"] == 2 * 1999 + 99 * 500

    # the account's cart through identity's `me`, its products through the catalog
    me = data(gateway.post(ME, token=shopper.access_token))["me"]
    assert me["cart"]["version"] == merged["cart"]["version"]
    assert {
        line["product"]["id"]: line["product"]["price"]["amount"] for line in me["cart"]["lines"]
    } == {
        lamp: 1999,
        mug: 500,
    }

    # merging again adds nothing; the guest token is spent, for this account and any other
    again = data(gateway.post(MERGE, {"t": token}, token=shopper.access_token))["mergeCart"]
    assert again["alreadyMerged"] is True
    assert lines(again["cart"]) == {lamp: 2, mug: 99}
    spent = error(gateway.post(CART, {"t": token}, token=shopper.access_token))
    assert (spent["code"], spent["field"]) == ("CART_MERGED", ["cartToken"])
    other = register(gateway)
    stolen = gateway.post(
        ADD, {"i": {"cartToken": token, "productId": lamp}}, token=other.access_token
    )
    assert (error(stolen)["code"], error(stolen)["field"]) == (
        "CART_TOKEN_FORBIDDEN",
        ["input", "cartToken"],
    )
    taken = error(gateway.post(MERGE, {"t": token}, token=other.access_token))
    assert (taken["code"], taken["field"]) == ("CART_TOKEN_FORBIDDEN", ["guestToken"])
    assert lines(cart(gateway, account=other)) == {}


def test_lines_change_save_for_later_and_back(gateway: GraphQLClient, new_product: Any) -> None:
    lamp, mug = new_product(1999), new_product(500)
    token = guest(gateway)
    ref = {"cartToken": token}
    data(gateway.post(ADD, {"i": {**ref, "productId": lamp}}))
    view = data(gateway.post(ADD, {"i": {**ref, "productId": mug, "quantity": 3}}))["addToCart"]
    assert (lines(view), view["itemCount"], view["version"]) == ({lamp: 1, mug: 3}, 4, 3)
    view = data(gateway.post(SET, {"i": {**ref, "productId": mug, "quantity": 7}}))[
        "setCartLineQuantity"
    ]
    assert lines(view) == {lamp: 1, mug: 7}
    view = data(gateway.post(SAVE, {"i": {**ref, "productId": lamp}}))["saveForLater"]
    assert (lines(view), view["savedForLater"]) == ({mug: 7}, [{"id": lamp, "quantity": 1}])
    assert view["pricing"]["subtotal"]["amount"] == 7 * 500
    view = data(gateway.post(MOVE, {"i": {**ref, "productId": lamp}}))["moveToCart"]
    assert (lines(view), view["savedForLater"]) == ({mug: 7, lamp: 1}, [])
    view = data(gateway.post(SET, {"i": {**ref, "productId": mug, "quantity": 0}}))[
        "setCartLineQuantity"
    ]
    assert lines(view) == {lamp: 1}
    view = data(gateway.post(REMOVE, {"i": {**ref, "productId": lamp}}))["removeFromCart"]
    assert lines(view) == {}
    data(gateway.post(ADD, {"i": {**ref, "productId": lamp}}))
    view = data(gateway.post(CLEAR, {"i": ref}))["clearCart"]
    assert (lines(view), view["version"]) == ({}, 10)


def test_bad_input_names_the_field_and_leaves_the_cart_unchanged(
    gateway: GraphQLClient, new_product: Any, admin: Account
) -> None:
    lamp = new_product(1999)
    gone = new_product(1999)
    data(
        gateway.post(
            "mutation($id: ID!) { archiveProduct(id: $id) { id } }",
            {"id": gone},
            token=admin.access_token,
        )
    )
    sold_out = new_product(1999, availability="OUT_OF_STOCK")
    token = guest(gateway)
    ref = {"cartToken": token}
    before = data(gateway.post(ADD, {"i": {**ref, "productId": lamp, "quantity": 2}}))["addToCart"]

    refusals = [
        (
            ADD,
            {**ref, "productId": lamp, "quantity": -1},
            "GREATER_THAN_EQUAL",
            ["input", "quantity"],
        ),
        (
            ADD,
            {**ref, "productId": lamp, "quantity": 0},
            "GREATER_THAN_EQUAL",
            ["input", "quantity"],
        ),
        (
            ADD,
            {**ref, "productId": lamp, "quantity": 98},
            "QUANTITY_TOO_LARGE",
            ["input", "quantity"],
        ),
        (
            ADD,
            {**ref, "productId": lamp, "quantity": 10**9},
            "LESS_THAN_EQUAL",
            ["input", "quantity"],
        ),
        (
            ADD,
            {**ref, "productId": "01HNOSUCHPRODUCT0000000000"},
            "PRODUCT_NOT_FOUND",
            ["input", "productId"],
        ),
        (ADD, {**ref, "productId": gone}, "PRODUCT_ARCHIVED", ["input", "productId"]),
        (ADD, {**ref, "productId": sold_out}, "PRODUCT_UNAVAILABLE", ["input", "productId"]),
        (ADD, {**ref, "productId": ""}, "STRING_TOO_SHORT", ["input", "productId"]),
        (
            SET,
            {**ref, "productId": lamp, "quantity": -3},
            "GREATER_THAN_EQUAL",
            ["input", "quantity"],
        ),
        (
            SET,
            {**ref, "productId": lamp, "quantity": 100},
            "QUANTITY_TOO_LARGE",
            ["input", "quantity"],
        ),
        (SET, {**ref, "productId": gone, "quantity": 1}, "LINE_NOT_FOUND", ["input", "productId"]),
        (REMOVE, {**ref, "productId": gone}, "LINE_NOT_FOUND", ["input", "productId"]),
        (
            ADD,
            {**ref, "productId": lamp, "expectedVersion": 1},
            "VERSION_CONFLICT",
            ["input", "expectedVersion"],
        ),
        (
            ADD,
            {"cartToken": "not-a-token", "productId": lamp},
            "STRING_PATTERN_MISMATCH",
            ["input", "cartToken"],
        ),
        (ADD, {"cartToken": "x" * 43, "productId": lamp}, "CART_NOT_FOUND", ["input", "cartToken"]),
        (ADD, {"productId": lamp}, "CART_TOKEN_REQUIRED", ["input", "cartToken"]),
    ]
    for query, variables, code, field in refusals:
        refused = error(gateway.post(query, {"i": variables}))
        assert (refused["code"], refused["field"]) == (code, field), (variables, refused)
        assert refused["message"]
    after = cart(gateway, token=token)
    assert (after["version"], lines(after)) == (before["version"], {lamp: 2})


def test_two_writers_on_two_replicas_keep_every_change(
    gateway: GraphQLClient, gateway_b: GraphQLClient, new_product: Any
) -> None:
    """Two devices add to one cart at once, one through each gateway and cart replica."""
    shopper = register(gateway)
    shared, mine, theirs = new_product(100), new_product(200), new_product(300)
    rounds = 40

    def writer(client: GraphQLClient, own: str) -> None:
        for _ in range(rounds):
            for product in (shared, own):
                data(client.post(ADD, {"i": {"productId": product}}, token=shopper.access_token))

    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(writer, gateway, mine), pool.submit(writer, gateway_b, theirs)]:
            done.result()
    view = cart(gateway_b, account=shopper)
    assert lines(view) == {shared: 2 * rounds, mine: rounds, theirs: rounds}
    assert view["version"] == 4 * rounds


def test_a_price_change_reprices_the_cart_and_flags_the_line(
    gateway: GraphQLClient, new_product: Any, admin: Account
) -> None:
    lamp = new_product(2500)
    shopper = register(gateway)
    added = data(
        gateway.post(ADD, {"i": {"productId": lamp, "quantity": 2}}, token=shopper.access_token)
    )["addToCart"]
    set_price = "mutation($id: ID!, $p: MoneyInput!) { setPrice(id: $id, price: $p) { version } }"
    data(
        gateway.post(
            set_price,
            {"id": lamp, "p": {"amount": 2000, "currency": "USD"}},
            token=admin.access_token,
        )
    )

    def repriced() -> dict[str, Any] | None:
        view = cart(gateway, account=shopper)
        return view if view["version"] > added["version"] else None

    view = wait_for(repriced, what="the cart to be re-priced")
    line = view["lines"][0]
    assert (line["priceChange"], line["unitPrice"], line["unitPriceAtAdd"]) == (
        "DOWN",
        {"amount": 2000},
        {"amount": 2500},
    )
    assert view["pricing"]["subtotal"]["amount"] == 4000

    data(
        gateway.post(
            set_price,
            {"id": lamp, "p": {"amount": 2600, "currency": "USD"}},
            token=admin.access_token,
        )
    )
    up = wait_for(
        lambda: (v := cart(gateway, account=shopper))["lines"][0]["priceChange"] == "UP" and v,
        what="UP",
    )
    assert up["lines"][0]["unitPrice"] == {"amount": 2600}
    assert up["pricing"]["subtotal"]["amount"] == 5200


def test_an_archived_product_is_flagged_unavailable_and_not_priced(
    gateway: GraphQLClient, new_product: Any, admin: Account
) -> None:
    lamp, mug = new_product(1000), new_product(300)
    shopper = register(gateway)
    for product in (lamp, mug):
        data(gateway.post(ADD, {"i": {"productId": product}}, token=shopper.access_token))
    data(
        gateway.post(
            "mutation($id: ID!) { archiveProduct(id: $id) { id } }",
            {"id": lamp},
            token=admin.access_token,
        )
    )

    def flagged() -> dict[str, Any] | None:
        view = cart(gateway, account=shopper)
        line = next(line for line in view["lines"] if line["id"] == lamp)
        return view if not line["available"] else None

    view = wait_for(flagged, what="the archived line to be flagged")
    line = next(line for line in view["lines"] if line["id"] == lamp)
    assert (line["availability"], line["subtotal"]) == ("ARCHIVED", {"amount": 0})
    assert view["pricing"]["subtotal"]["amount"] == 300
