"""The demo's stock in bulk: ``emporium-inventory seed`` gives every offer the catalog sells
its demo quantity from the catalog's export, while the inventory's event consumer registers
the same new SKUs from ``ProductCreated`` at the same moment; each SKU ends with one stock
document, and seeding again creates nothing. The seed announces its levels in batch
documents, and seeded SKUs an interrupted run never announced are announced by the next one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from emporium_inventory import seed
from emporium_inventory.stock import demo_quantity
from emporium_platform.harness import GraphQLClient, Stack
from pymongo import AsyncMongoClient, MongoClient
from ulid import ULID

from .conftest import Shop, data, stock, wait_for

pytestmark = pytest.mark.workflow

CREATE = "mutation($i: CreateProductInput!) { createProduct(input: $i) { id sku } }"


def test_the_seed_stocks_every_offer_at_once_and_again_creates_nothing(
    gateway: GraphQLClient, shop: Shop, stack: Stack
) -> None:
    run = str(ULID()).upper()
    skus = [f"SEED-{run}-{n}" for n in range(12)]
    for sku in skus:
        create(gateway, shop, sku)

    async def seed_twice() -> tuple[tuple[int, int], tuple[int, int]]:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(stack.platform.mongo_url)
        try:
            db = client[stack.database("inventory")]
            url = stack["catalog"].graphql_url
            # racing the event consumer, which registers the same SKUs now
            first = await seed.seed(db=db, catalog_url=url, timeout_s=60)
            return first, await seed.seed(db=db, catalog_url=url, timeout_s=60)
        finally:
            await client.close()

    (seen, _), (seen_again, created_again) = asyncio.run(seed_twice())
    assert seen >= len(skus)
    assert seen_again == seen
    assert created_again == 0
    for sku in skus:
        quantity = demo_quantity(sku)
        assert stock(gateway, sku) == {"onHand": quantity, "reserved": 0, "available": quantity}
    with MongoClient(stack.platform.mongo_url) as client:
        inventory = client[stack.database("inventory")]
        assert inventory["stock"].count_documents({"_id": {"$in": skus}}) == len(skus)
        # every StockLevelChanged, the consumer's (in the stock document) and the seed's (in
        # its batch document), is published by the service's relay
        for collection in ("stock", "seed_batches"):
            wait_for(
                lambda c=collection: (
                    inventory[c].count_documents(
                        {"outbox.0": {"$exists": True}, "_id": {"$in": skus}}
                        if c == "stock"
                        else {"outbox.0": {"$exists": True}, "skus": {"$in": skus}}
                    )
                    == 0
                ),
                within_s=120,
            )


def test_what_an_interrupted_seed_never_announced_is_announced_by_the_next_run(
    gateway: GraphQLClient, shop: Shop, stack: Stack
) -> None:
    run = str(ULID()).upper()
    sku = next(s for n in range(20) if demo_quantity(s := f"SEED-{run}-{n}") > 0)
    product = create(gateway, shop, sku)
    wait_for(lambda: availability(gateway, product["id"]) == "IN_STOCK")
    batch = f"seed-{run}"
    with MongoClient(stack.platform.mongo_url) as client:
        # what a seed leaves when it dies between its insert and its announcement: a seeded
        # document whose level (sold out since) no event has told the catalog
        stored = client[stack.database("inventory")]["stock"]
        wait_for(lambda: stored.count_documents({"_id": sku, "outbox.0": {"$exists": False}}))
        stored.update_one(
            {"_id": sku}, {"$set": {"seed_batch": batch, "on_hand": 0}, "$inc": {"version": 5}}
        )

    async def seed_again() -> None:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(stack.platform.mongo_url)
        try:
            url = stack["catalog"].graphql_url
            await seed.seed(db=client[stack.database("inventory")], catalog_url=url, timeout_s=60)
        finally:
            await client.close()

    asyncio.run(seed_again())
    with MongoClient(stack.platform.mongo_url) as client:
        announced = list(client[stack.database("inventory")]["seed_batches"].find({"batch": batch}))
        assert [doc["skus"] for doc in announced] == [[sku]]
    wait_for(lambda: availability(gateway, product["id"]) == "OUT_OF_STOCK", within_s=120)


def create(gateway: GraphQLClient, shop: Shop, sku: str) -> dict[str, Any]:
    """A product of the shop's seller with its own offer under ``sku``."""
    product = {
        "name": f"Seeded {sku}",
        "brand": "Lumen",
        "categoryId": category_of(gateway, shop),
        "sku": sku,
        "price": {"amount": 1000, "currency": "USD"},
        "ownerSellerId": shop.seller_id,
    }
    return dict(data(gateway.post(CREATE, {"i": product}, token=shop.admin))["createProduct"])


def category_of(gateway: GraphQLClient, shop: Shop) -> str:
    query = "query($p: ID!) { product(id: $p) { category { id } } }"
    return str(data(gateway.post(query, {"p": shop.product_id}))["product"]["category"]["id"])


def availability(gateway: GraphQLClient, product_id: str) -> str:
    query = "query($p: ID!) { product(id: $p) { availability } }"
    return str(data(gateway.post(query, {"p": product_id}))["product"]["availability"])
