"""Stock drives availability, end to end through the gateway: the inventory's stock of an
offer goes to zero and back, and the product's availability follows in the catalog, in
search (the availability filter and facet, the in-stock flag behind the boost) and in a cart
holding it (the line is flagged and left out of the subtotal)."""

from __future__ import annotations

from typing import Any

import pytest
from emporium_platform.harness import GraphQLClient
from ulid import ULID

from ..checkout.conftest import takes
from .conftest import data, wait_for

pytestmark = pytest.mark.workflow

SEARCH = """
query($q: String, $a: [Availability!]) {
  search(query: $q, filter: {availability: $a}, first: 10) {
    totalCount edges { node { id } }
    facets { availability { value count } }
  }
}
"""
PRODUCT = "query($id: ID!) { product(id: $id) { availability listings { sku availability } } }"
CART = """
query($t: String!) {
  cart(cartToken: $t) {
    lines { id available availability }
    pricing { subtotal { amount } }
  }
}
"""


class Shop:
    """A seller's product with an owner offer and, optionally, another seller's listing,
    created through the gateway; the inventory learns each SKU from the catalog's event."""

    def __init__(self, gateway: GraphQLClient, admin: str) -> None:
        self.gateway, self.admin = gateway, admin
        self.run = str(ULID()).lower()
        self.category = self._ok(
            "mutation($n: String!) { createCategory(input: {name: $n}) { id } }",
            {"n": f"Stock {self.run}"},
        )["createCategory"]["id"]

    def _ok(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return data(self.gateway.post(query, variables, token=self.admin))

    def seller(self, name: str) -> str:
        return self._ok(
            "mutation($n: String!) { createSeller(input: {name: $n}) { id } }",
            {"n": f"{name} {self.run} {ULID()}"},
        )["createSeller"]["id"]

    def product(self, name: str, *, listing: bool = False) -> tuple[str, list[str]]:
        """A new product's id and its offers' SKUs (the owner's first)."""
        sku = f"ST-{ULID()}"
        product = self._ok(
            "mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }",
            {
                "i": {
                    "name": name,
                    "brand": "Lumen",
                    "categoryId": self.category,
                    "sku": sku,
                    "price": {"amount": 2500, "currency": "USD"},
                    "ownerSellerId": self.seller("Owner"),
                }
            },
        )["createProduct"]["id"]
        skus = [sku]
        if listing:
            skus.append(f"SL-{ULID()}")
            self._ok(
                """mutation($p: ID!, $i: ListingInput!) {
                  upsertListing(productId: $p, input: $i) { id }
                }""",
                {
                    "p": product,
                    "i": {
                        "sellerId": self.seller("Reseller"),
                        "sku": skus[1],
                        "price": {"amount": 2400, "currency": "USD"},
                    },
                },
            )
        for offer in skus:
            wait_for(lambda offer=offer: self.stock(offer))
        return product, skus

    def stock(self, sku: str) -> dict[str, Any] | None:
        query = "query($s: ID!) { inventoryStock(sku: $s) { onHand reserved available } }"
        return data(self.gateway.post(query, {"s": sku}))["inventoryStock"]

    def set_stock(self, sku: str, to: int) -> None:
        """Set the SKU's on-hand to ``to`` through the inventory's API."""
        level = self.stock(sku)
        assert level is not None
        if delta := to - level["onHand"]:
            self._ok(
                """mutation($s: ID!, $d: Int!) {
                  adjustInventoryStock(input: {sku: $s, delta: $d, reason: "count"}) { onHand }
                }""",
                {"s": sku, "d": delta},
            )


@pytest.fixture(scope="module")
def shop(gateway: GraphQLClient, admin: str) -> Shop:
    return Shop(gateway, admin)


def availability(gateway: GraphQLClient, product_id: str) -> str:
    return data(gateway.post(PRODUCT, {"id": product_id}))["product"]["availability"]


def found(gateway: GraphQLClient, query: str, *states: str) -> set[str]:
    result = data(gateway.post(SEARCH, {"q": query, "a": list(states)}))["search"]
    return {edge["node"]["id"] for edge in result["edges"] if edge["node"]}


def test_sold_out_and_restocked_reaches_search_and_the_cart(
    gateway: GraphQLClient, shop: Shop
) -> None:
    name = f"Brightwell Lamp {shop.run}"
    product, [sku] = shop.product(name)
    shop.set_stock(sku, 5)
    wait_for(lambda: product in found(gateway, name, "IN_STOCK"))
    cart = data(gateway.post("mutation { createGuestCart { token } }"))["createGuestCart"]["token"]
    # the cart learns the stock from the catalog's events, on its own time
    wait_for(lambda: takes(gateway, cart, product))

    def line() -> dict[str, Any]:
        return data(gateway.post(CART, {"t": cart}))["cart"]

    assert line()["lines"][0]["available"] is True

    shop.set_stock(sku, 0)
    wait_for(lambda: availability(gateway, product) == "OUT_OF_STOCK")
    wait_for(lambda: product in found(gateway, name, "OUT_OF_STOCK"))
    assert product not in found(gateway, name, "IN_STOCK")
    facets = data(gateway.post(SEARCH, {"q": name, "a": None}))["search"]["facets"]
    assert {"value": "OUT_OF_STOCK", "count": 1} in facets["availability"]
    sold_out = wait_for(lambda: (c := line())["lines"][0]["available"] is False and c)
    assert sold_out["lines"][0]["availability"] == "OUT_OF_STOCK"
    assert sold_out["pricing"]["subtotal"]["amount"] == 0  # an unavailable line is not priced

    shop.set_stock(sku, 3)
    wait_for(lambda: product in found(gateway, name, "IN_STOCK"))
    back = wait_for(lambda: (c := line())["lines"][0]["available"] is True and c)
    assert back["pricing"]["subtotal"]["amount"] == 2500


def test_a_product_is_available_while_any_of_its_offers_is(
    gateway: GraphQLClient, shop: Shop
) -> None:
    name = f"Twinoffer Kettle {shop.run}"
    product, [own, listed] = shop.product(name, listing=True)

    def offers() -> tuple[str, str]:
        read = data(gateway.post(PRODUCT, {"id": product}))["product"]
        return read["availability"], read["listings"][0]["availability"]

    shop.set_stock(own, 0)
    shop.set_stock(listed, 0)
    wait_for(lambda: product in found(gateway, name, "OUT_OF_STOCK"))
    assert offers() == ("OUT_OF_STOCK", "OUT_OF_STOCK")

    shop.set_stock(listed, 2)  # only the reseller has units
    wait_for(lambda: product in found(gateway, name, "IN_STOCK"))
    assert offers() == ("IN_STOCK", "IN_STOCK")

    shop.set_stock(listed, 0)
    shop.set_stock(own, 3)  # only the owner has units
    wait_for(lambda: offers() == ("IN_STOCK", "OUT_OF_STOCK"))
    wait_for(lambda: product in found(gateway, name, "IN_STOCK"))

    shop.set_stock(own, 0)
    wait_for(lambda: product in found(gateway, name, "OUT_OF_STOCK"))
    assert offers() == ("OUT_OF_STOCK", "OUT_OF_STOCK")
