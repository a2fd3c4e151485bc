"""The demo's stock in bulk: ``emporium-inventory seed`` gives every offer the catalog sells
its demo quantity from the catalog's export, while the inventory's event consumer registers
the same new SKUs from ``ProductCreated`` at the same moment; each SKU ends with one stock
document, and seeding again creates nothing."""

from __future__ import annotations

import asyncio

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
        data(
            gateway.post(
                CREATE,
                {
                    "i": {
                        "name": f"Seeded {sku}",
                        "brand": "Lumen",
                        "categoryId": category_of(gateway, shop),
                        "sku": sku,
                        "price": {"amount": 1000, "currency": "USD"},
                        "ownerSellerId": shop.seller_id,
                    }
                },
                token=shop.admin,
            )
        )

    async def seed_twice() -> tuple[tuple[int, int], tuple[int, int]]:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(stack.platform.mongo_url)
        try:
            collection = client[stack.database("inventory")]["stock"]
            url = stack["catalog"].graphql_url
            # racing the event consumer, which registers the same SKUs now
            first = await seed.seed(stock=collection, catalog_url=url, timeout_s=60)
            return first, await seed.seed(stock=collection, catalog_url=url, timeout_s=60)
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
        stored = client[stack.database("inventory")]["stock"]
        assert stored.count_documents({"_id": {"$in": skus}}) == len(skus)
        # each document's StockLevelChanged is published by the service's relay
        wait_for(
            lambda: (
                stored.count_documents({"_id": {"$in": skus}, "outbox.0": {"$exists": True}}) == 0
            ),
            within_s=120,
        )


def category_of(gateway: GraphQLClient, shop: Shop) -> str:
    query = "query($p: ID!) { product(id: $p) { category { id } } }"
    return str(data(gateway.post(query, {"p": shop.product_id}))["product"]["category"]["id"])
