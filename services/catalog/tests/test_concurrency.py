"""Concurrent changes to one product through GraphQL: every change is kept; concurrent
claimants of one stale SKU or slug claim: exactly one takes it over.

FerretDB 1.24 applies an update as an unguarded read-modify-write; product writes go through
the kit's guarded write path (per-document lease + versioned update), so concurrent price,
listing and detail changes to one product are applied one after another, none lost.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from emporium_catalog.claims import CLAIM_GRACE, UniqueClaims
from emporium_catalog.products import SKUS, SLUGS
from emporium_catalog.settings import CatalogSettings
from emporium_catalog.store import SKU_CLAIMS, SLUG_CLAIMS, CatalogDb
from emporium_kit.documents import now
from emporium_kit.errors import Conflict
from pymongo import AsyncMongoClient
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


@pytest.mark.parametrize(
    ("claims", "collection", "value", "code"),
    [
        (SKUS, SKU_CLAIMS, "STALE-{}", "SKU_TAKEN"),
        (SLUGS, SLUG_CLAIMS, "stale-{}", "SLUG_TAKEN"),
    ],
)
async def test_of_many_claimants_of_one_stale_claim_exactly_one_wins(
    *,
    settings: CatalogSettings,
    store: CatalogDb,
    claims: UniqueClaims,
    collection: str,
    value: str,
    code: str,
) -> None:
    """A claim left by a crashed write (its product never got the value) is taken over once
    older than the grace period: by exactly one of many concurrent claimants, each a catalog
    store of its own on one of several independent Mongo clients. FerretDB applies a
    conditional update as an unguarded read-modify-write, so the takeover holds the claim's
    lease while it re-reads and rewrites the claim."""
    clients = [AsyncMongoClient(settings.mongo_url, tz_aware=True) for _ in range(6)]
    try:
        stores = [CatalogDb(clients[n % 6][str(settings.mongo_database)]) for n in range(24)]
        for _round in range(2):
            taken_value = value.format(str(ULID()).lower())
            crashed = now() - CLAIM_GRACE - timedelta(seconds=1)
            await store.raw[collection].insert_one(
                {"_id": taken_value, "product_id": "crashed-write", "claimed_at": crashed}
            )

            async def claim(claimant: CatalogDb, n: int, taken_value: str = taken_value) -> Any:
                try:
                    return await claims.claim(
                        claimant.raw,
                        taken_value,
                        f"product-{n}",
                        field=["input", "value"],
                        leases=claimant.leases,
                    )
                except Conflict as refused:
                    return refused.code

            outcomes = await asyncio.gather(*(claim(s, n) for n, s in enumerate(stores)))
            winners = [n for n, outcome in enumerate(outcomes) if outcome is True]
            assert len(winners) == 1, outcomes
            assert sorted(set(outcomes) - {True}) == [code]
            holder = await store.raw[collection].find_one({"_id": taken_value})
            assert holder["product_id"] == f"product-{winners[0]}"
    finally:
        for client in clients:
            await client.close()
