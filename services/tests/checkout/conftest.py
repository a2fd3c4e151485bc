"""Fixtures for the checkout suite: catalog, cart, inventory, payment, order and notification
as real processes (the test harness's ``stacks``) on the test platform's Redis, NATS, FerretDB,
stripe-mock and Mailpit, the gateway in front, tokens from the kit's ``TokenMinter`` served as
the stack's JWKS. Buyers fill their carts and place orders from them. The payment service
relays Stripe's signed webhooks to its own endpoint. Nothing of ours is faked.

The stack is sized for the suite's 200-buyer rush on a shared two-core machine, where the
whole rush passes through one SKU's lease, one reservation at a time, and FerretDB answers
slowly under the burst:

- every saga step's deadline (``DEADLINE_S``) outlasts the rush: with the defaults (2 min to
  reserve, 5 to capture) the sweeper would cancel some orders for a timeout instead of their
  real outcome (the order service's own tests cover the sweeper);
- a Mongo call may take 10 s instead of 2 before it counts against the breaker, and a
  consumer retries an event up to 20 times instead of 5, so the burst's slow answers delay
  the saga instead of dead-lettering its events."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from emporium_kit.testing import JwksServer, TokenMinter
from emporium_platform.harness import GraphQLClient, Stack
from ulid import ULID

# every saga step's deadline in this suite: longer than the rush takes
DEADLINE_S = 1800
CONSUMERS = ("ORDER", "PAYMENT", "INVENTORY", "NOTIFICATION")


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter()


@pytest.fixture(scope="session")
def stack(stacks: Callable[..., Stack], minter: TokenMinter) -> Iterator[Stack]:
    sized = {
        "EMPORIUM_MONGO_TIMEOUT_S": "10",
        **{f"EMPORIUM_{name}_CONSUMER_MAX_DELIVER": "20" for name in CONSUMERS},
    }
    with (
        JwksServer(minter) as jwks,
        stacks("checkout", jwks_url=jwks.url, env=sized) as stack,
    ):
        stack.start("catalog")
        stack.start("cart")
        stack.start("inventory", env={"EMPORIUM_INVENTORY_HOLD_TTL_S": str(DEADLINE_S * 2)})
        stack.start("payment")
        stack.start(
            "order",
            env={
                "EMPORIUM_ORDER_PAYMENT_TIMEOUT_S": str(DEADLINE_S),
                "EMPORIUM_ORDER_RESERVATION_TIMEOUT_S": str(DEADLINE_S),
                "EMPORIUM_ORDER_CAPTURE_TIMEOUT_S": str(DEADLINE_S),
            },
        )
        stack.start("notification")
        yield stack


@pytest.fixture
def buyer(minter: TokenMinter) -> str:
    """A fresh customer's token."""
    return minter.mint(f"buyer-{ULID()}", ["customer"])


@pytest.fixture(scope="session")
def gateway(stack: Stack) -> GraphQLClient:
    return stack.gateway()


def data(response: Any) -> dict[str, Any]:
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


@dataclass(frozen=True)
class Shop:
    admin: str
    product_id: str
    name: str
    sku: str
    seller_id: str

    def restock(self, gateway: GraphQLClient, to: int) -> None:
        """Set the SKU's on-hand to ``to`` through the inventory's API, once the orders before
        have settled their holds (a confirmed order commits its hold after it is confirmed)."""
        level = wait_for(lambda: (held := stock(gateway, self.sku))["reserved"] == 0 and held)
        delta = to - level["onHand"]
        if delta:
            data(
                gateway.post(
                    """mutation($s: ID!, $d: Int!) {
                      adjustInventoryStock(input: {sku: $s, delta: $d, reason: "count"}) { onHand }
                    }""",
                    {"s": self.sku, "d": delta},
                    token=self.admin,
                )
            )
        if to > 0:
            # the cart learns the stock from the catalog's events, on its own time: a buyer
            # who comes before that is told the product is unavailable
            probe = data(gateway.post("mutation { createGuestCart { token } }"))
            wait_for(lambda: takes(gateway, probe["createGuestCart"]["token"], self.product_id))


def takes(gateway: GraphQLClient, cart_token: str, product_id: str) -> bool:
    """Whether a guest cart takes the product (refused as unavailable: not yet, or not)."""
    body = gateway.post(
        """mutation($t: String!, $p: ID!) {
          addToCart(input: {cartToken: $t, productId: $p}) { id }
        }""",
        {"t": cart_token, "p": product_id},
    ).json()
    codes = {error["extensions"]["code"] for error in body.get("errors", [])}
    assert codes <= {"PRODUCT_UNAVAILABLE"}, body
    return not codes


def stock(gateway: GraphQLClient, sku: str) -> dict[str, Any]:
    query = "query($s: ID!) { inventoryStock(sku: $s) { onHand reserved available } }"
    return data(gateway.post(query, {"s": sku}))["inventoryStock"]


def wait_for(check: Callable[[], Any], *, within_s: float = 90.0) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"still {value!r}"
        time.sleep(0.25)


@pytest.fixture(scope="session")
def shop(gateway: GraphQLClient, minter: TokenMinter) -> Shop:
    """The suite's shop (see :func:`new_shop`)."""
    return new_shop(gateway, minter)


def new_shop(gateway: GraphQLClient, minter: TokenMinter) -> Shop:
    """A category, a seller and a product at $25.00 created through the gateway; the
    inventory learns its SKU from the catalog's event."""
    # the suite outlives a default token: the admin's lasts the session
    admin = minter.mint(
        "admin-1", ["admin"], scopes=["role:admin", "catalog:write"], ttl=timedelta(hours=2)
    )
    run = str(ULID()).lower()
    category = data(
        gateway.post(
            "mutation($n: String!) { createCategory(input: {name: $n}) { id } }",
            {"n": f"Checkout {run}"},
            token=admin,
        )
    )["createCategory"]["id"]
    seller = data(
        gateway.post(
            "mutation($n: String!) { createSeller(input: {name: $n}) { id } }",
            {"n": f"Checkout Seller {run}"},
            token=admin,
        )
    )["createSeller"]["id"]
    sku, name = f"CO-{run.upper()}", f"Checkout Lamp {run}"
    product = data(
        gateway.post(
            """mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }""",
            {
                "i": {
                    "name": name,
                    "brand": "Lumen",
                    "categoryId": category,
                    "sku": sku,
                    "price": {"amount": 2500, "currency": "USD"},
                    "ownerSellerId": seller,
                }
            },
            token=admin,
        )
    )["createProduct"]["id"]
    wait_for(
        lambda: data(
            gateway.post("query($s: ID!) { inventoryStock(sku: $s) { sku } }", {"s": sku})
        )["inventoryStock"]
    )
    return Shop(admin=admin, product_id=product, name=name, sku=sku, seller_id=seller)


ADD = """
mutation($p: ID!, $q: Int!) { addToCart(input: {productId: $p, quantity: $q}) { version } }
"""
CART = "{ cart { version appliedCoupons lines { id sku sellerId quantity } } }"


def add_to_cart(gateway: GraphQLClient, token: str, product_id: str, quantity: int) -> None:
    """Add units to the signed-in buyer's own cart."""
    data(gateway.post(ADD, {"p": product_id, "q": quantity}, token=token))


def cart_of(gateway: GraphQLClient, token: str) -> dict[str, Any]:
    return data(gateway.post(CART, token=token))["cart"]
