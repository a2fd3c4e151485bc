"""The inventory API through /graphql, on the test platform."""

from __future__ import annotations

from typing import Any

import pytest
from emporium_inventory.store import InventoryDb
from emporium_kit.testing import TokenMinter

from .helpers import new_sku

pytestmark = pytest.mark.integration

STOCK = """
query($sku: ID!) {
  inventoryStock(sku: $sku) { sku sellerId onHand reserved available inStock version }
}
"""
STOCKS = "query($skus: [ID!]!) { inventoryStocks(skus: $skus) { sku available } }"
ADJUST = """
mutation($sku: ID!, $delta: Int!, $version: Int) {
  adjustInventoryStock(input: {sku: $sku, delta: $delta, reason: "delivery",
                               expectedVersion: $version}) {
    sku onHand available version
  }
}
"""


def code(result: dict[str, Any]) -> tuple[str, Any]:
    error = result["errors"][0]["extensions"]
    return error["code"], error.get("field")


async def test_the_owner_restocks_and_reads_the_levels(gql: Any, db: InventoryDb) -> None:
    sku = await new_sku(db, 0, seller_id="seller-1")
    empty = (await gql(STOCK, {"sku": sku}))["data"]["inventoryStock"]
    assert empty == {
        "sku": sku,
        "sellerId": "seller-1",
        "onHand": 0,
        "reserved": 0,
        "available": 0,
        "inStock": False,
        "version": 1,
    }
    restocked = (await gql(ADJUST, {"sku": sku, "delta": 7, "version": 1}))["data"]
    assert restocked["adjustInventoryStock"] == {
        "sku": sku,
        "onHand": 7,
        "available": 7,
        "version": 2,
    }
    assert code(await gql(ADJUST, {"sku": sku, "delta": 1, "version": 1})) == (
        "VERSION_CONFLICT",
        ["input", "expectedVersion"],
    )
    assert code(await gql(ADJUST, {"sku": sku, "delta": -8})) == (
        "STOCK_BELOW_RESERVED",
        ["input", "delta"],
    )
    both = (await gql(STOCKS, {"skus": [sku, "SKU-NONE"]}))["data"]["inventoryStocks"]
    assert both == [{"sku": sku, "available": 7}, None]


async def test_only_the_owner_or_an_admin_adjusts(
    gql: Any, db: InventoryDb, minter: TokenMinter
) -> None:
    sku = await new_sku(db, 2, seller_id="seller-1")
    other = minter.mint("user-2", ["seller"], seller_id="seller-2")
    customer = minter.mint("user-3", ["customer"])
    admin = minter.mint("user-4", ["admin"])
    assert code(await gql(ADJUST, {"sku": sku, "delta": 1}, token=other))[0] == "NOT_YOUR_SKU"
    assert code(await gql(ADJUST, {"sku": sku, "delta": 1}, token=customer))[0] == "MISSING_ROLE"
    anonymous = await gql(ADJUST, {"sku": sku, "delta": 1}, token=None)
    assert code(anonymous)[0] == "AUTHENTICATION_REQUIRED"
    by_admin = await gql(ADJUST, {"sku": sku, "delta": -2}, token=admin)
    assert by_admin["data"]["adjustInventoryStock"]["onHand"] == 0


async def test_inputs_are_bounded_and_name_the_field(gql: Any, db: InventoryDb) -> None:
    sku = await new_sku(db, 1)
    assert code(await gql(ADJUST, {"sku": sku, "delta": 0})) == (
        "VALIDATION_FAILED",
        ["input", "delta"],
    )
    assert code(await gql(ADJUST, {"sku": "SKU-NONE", "delta": 1})) == ("SKU_NOT_FOUND", ["sku"])
    too_many = await gql(STOCKS, {"skus": [f"S{n}" for n in range(101)]})
    assert code(too_many) == ("TOO_MANY_SKUS", ["skus"])
