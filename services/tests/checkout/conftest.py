"""Fixtures for the checkout suite: catalog, inventory, payment, order and notification as real
processes (the test harness's ``stacks``) on the test platform's Redis, NATS, FerretDB,
stripe-mock and Mailpit,
the gateway in front, tokens from the kit's ``TokenMinter`` served as the stack's JWKS. The
payment service relays Stripe's signed webhooks to its own endpoint. Nothing of ours is
faked."""

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


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter()


@pytest.fixture(scope="session")
def stack(stacks: Callable[..., Stack], minter: TokenMinter) -> Iterator[Stack]:
    with JwksServer(minter) as jwks, stacks("checkout", jwks_url=jwks.url) as stack:
        stack.start("catalog")
        stack.start("inventory")
        stack.start("payment")
        stack.start("order")
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
    sku: str
    seller_id: str

    def restock(self, gateway: GraphQLClient, to: int) -> None:
        """Set the SKU's on-hand to ``to`` through the inventory's API."""
        level = stock(gateway, self.sku)
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
    """A category, a seller and a product at €25.00 created through the gateway; the
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
    sku = f"CO-{run.upper()}"
    product = data(
        gateway.post(
            """mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }""",
            {
                "i": {
                    "name": f"Checkout Lamp {run}",
                    "brand": "Lumen",
                    "categoryId": category,
                    "sku": sku,
                    "price": {"amount": 2500, "currency": "EUR"},
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
    return Shop(admin=admin, product_id=product, sku=sku, seller_id=seller)
