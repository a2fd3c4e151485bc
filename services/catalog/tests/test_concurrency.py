"""Concurrent changes to one product through GraphQL: every change is kept.

FerretDB 1.24 applies an update as an unguarded read-modify-write; product writes go through
the kit's guarded write path (per-document lease + versioned update), so concurrent price,
listing and detail changes to one product are applied one after another, none lost.
"""

from __future__ import annotations

import asyncio

import pytest
from ulid import ULID

from .conftest import Gql, World
from .test_products_api import GET, SET_PRICE, UPDATE, UPSERT_LISTING, create

pytestmark = pytest.mark.integration

CREATE_SELLER = "mutation($i: CreateSellerInput!) { createSeller(input: $i) { id } }"
SELLERS = 8
PRICES = 4


async def test_concurrent_price_listing_and_detail_changes_are_all_kept(
    gql: Gql, world: World
) -> None:
    product = await create(gql, world)
    sellers = [
        (await gql.ok(CREATE_SELLER, {"i": {"name": f"Crowd {ULID()}"}}, roles=["admin"]))[
            "createSeller"
        ]["id"]
        for _ in range(SELLERS)
    ]
    listing_skus = {seller: f"L-{ULID()}" for seller in sellers}
    calls = [
        gql(
            UPSERT_LISTING,
            {
                "p": product["id"],
                "i": {
                    "sellerId": seller,
                    "sku": sku,
                    "price": {"amount": 1000 + n, "currency": "USD"},
                },
            },
            roles=["admin"],
        )
        for n, (seller, sku) in enumerate(listing_skus.items())
    ]
    prices = [200_000 + n for n in range(PRICES)]
    calls += [
        gql(
            SET_PRICE,
            {"id": product["id"], "p": {"amount": amount, "currency": "USD"}},
            roles=["admin"],
        )
        for amount in prices
    ]
    calls.append(gql(UPDATE, {"id": product["id"], "i": {"name": "Crowd Phone"}}, roles=["admin"]))
    answers = await asyncio.gather(*calls)
    assert [a for a in answers if a.get("errors")] == []

    final = (await gql.ok(GET, {"id": product["id"]}))["product"]
    assert {(item["sellerId"], item["sku"]) for item in final["listings"]} == set(
        listing_skus.items()
    )
    assert final["name"] == "Crowd Phone"
    assert final["price"]["amount"] in prices
    # every call changed something: each one is one version
    assert final["version"] == 1 + SELLERS + PRICES + 1
    versions = sorted(next(iter(a["data"].values()))["version"] for a in answers)
    assert versions == list(range(2, final["version"] + 1))
