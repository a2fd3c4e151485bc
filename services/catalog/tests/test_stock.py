"""Availability from the inventory's ``StockLevelChanged``: the rules (unit), the consumer on
the real NATS and FerretDB (a stock change reaches the product and its ``ProductUpdated``;
duplicates and older events leave the newest), and concurrent writers of one product.

The events are built by the inventory's own builder (``stock_level_changed``) and published
to the test platform's ``EMPORIUM_INVENTORY`` stream, as the inventory's relay publishes them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import nats
import pytest
from emporium_catalog import events as catalog_events
from emporium_catalog.domain import StockLevel, derived_availability, merge_levels
from emporium_catalog.settings import CatalogSettings
from emporium_catalog.stock import record_stock_levels, stock_change
from emporium_catalog.store import PRODUCTS, CatalogDb
from emporium_inventory import events as inventory_events
from emporium_inventory.events import stock_level_changed
from emporium_kit.events import incompatibilities, stream_name
from emporium_kit.events.publisher import EventPublisher
from fastapi import FastAPI
from nats.js import JetStreamContext
from pymongo import AsyncMongoClient
from ulid import ULID

from .conftest import Gql, World
from .test_products_api import GET, UPSERT_LISTING, create

# ----------------------------------------------------------------------------------- rules


def _product(**fields: Any) -> dict[str, Any]:
    doc = {
        "_id": "p1",
        "sku": "OWN",
        "owner_seller_id": "s0",
        "status": "ACTIVE",
        "availability": "IN_STOCK",
        "listings": [
            {"seller_id": "s1", "sku": "L1", "availability": "IN_STOCK"},
            {"seller_id": "s2", "sku": "L2", "availability": "PREORDER"},
        ],
    }
    return doc | fields


@pytest.mark.unit
def test_only_newer_levels_are_recorded_the_newest_of_a_batch_wins() -> None:
    stored = [{"sku": "A", "available": 5, "version": 4}]
    assert merge_levels(stored, [StockLevel("A", 9, 4), StockLevel("A", 9, 3)]) is None
    merged = merge_levels(
        stored, [StockLevel("A", 0, 6), StockLevel("A", 2, 5), StockLevel("B", 1, 1)]
    )
    assert merged == [
        {"sku": "A", "available": 0, "version": 6},
        {"sku": "B", "available": 1, "version": 1},
    ]


def _stored_product(**fields: Any) -> dict[str, Any]:
    """A product as the catalog stores it, with one offer of its own (SKU ``OWN``)."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return (
        _product(
            slug="p1",
            name="P1",
            description="",
            brand="B",
            category_id="c1",
            price={"amount": 1000, "currency": "USD"},
            listings=[],
            version=3,
            created_at=at,
            updated_at=at,
        )
        | fields
    )


@pytest.mark.unit
def test_a_first_level_that_changes_nothing_visible_is_not_written() -> None:
    # the seed's announcement of a SKU in stock on a product in stock: nothing to write
    assert stock_change(_stored_product(), [StockLevel("OWN", 7, 1)]) is None
    # ... unless it changes what the product reads as: the first level of a sold-out SKU
    sold_out = stock_change(_stored_product(), [StockLevel("OWN", 0, 1)])
    assert sold_out is not None
    assert sold_out[0]["availability"] == "OUT_OF_STOCK"
    assert [event.type for event in sold_out[1]] == ["ProductUpdated"]
    # a later level is recorded even when nothing visible moves: an older one may follow it
    later = stock_change(_stored_product(), [StockLevel("OWN", 6, 2)])
    assert later is not None
    assert later[0]["stock"] == [{"sku": "OWN", "available": 6, "version": 2}]
    assert later[1] == []
    # a first level beside a recorded one is no different from any other first level
    listed = [{"seller_id": "s1", "sku": "L1", "availability": "IN_STOCK"}]
    recorded = _stored_product(
        listings=listed, stock=[{"sku": "OWN", "available": 6, "version": 2}]
    )
    assert stock_change(recorded, [StockLevel("L1", 3, 1)]) is None
    # the first level of a SKU the product does not offer is kept for a listing to come
    kept = stock_change(_stored_product(), [StockLevel("NOT-YET-LISTED", 0, 1)])
    assert kept is not None
    assert kept[0]["stock"] == [{"sku": "NOT-YET-LISTED", "available": 0, "version": 1}]


@pytest.mark.unit
def test_a_product_is_in_stock_while_any_offer_is() -> None:
    levels = [
        {"sku": "OWN", "available": 0, "version": 2},
        {"sku": "L1", "available": 3, "version": 2},
    ]
    assert derived_availability(_product(stock=levels)) == {}
    levels[1]["available"] = 0
    changes = derived_availability(_product(stock=levels))
    assert changes["availability"] == "OUT_OF_STOCK"
    # the tracked listing follows its SKU; a seller's PREORDER is not stock's to override
    assert [item["availability"] for item in changes["listings"]] == ["OUT_OF_STOCK", "PREORDER"]
    back = derived_availability(
        _product(availability="OUT_OF_STOCK", stock=[{"sku": "OWN", "available": 1, "version": 3}])
    )
    assert back == {"availability": "IN_STOCK"}


@pytest.mark.unit
def test_untracked_offers_and_seller_states_are_left_alone() -> None:
    assert derived_availability(_product()) == {}  # nothing tracked yet
    discontinued = _product(
        availability="DISCONTINUED",
        listings=[],
        stock=[{"sku": "OWN", "available": 9, "version": 1}],
    )
    assert derived_availability(discontinued) == {}
    archived = _product(status="ARCHIVED", stock=[{"sku": "OWN", "available": 0, "version": 1}])
    assert derived_availability(archived) == {}
    # an untracked listing that says it is in stock keeps the product in stock
    untracked = _product(stock=[{"sku": "OWN", "available": 0, "version": 1}])
    assert derived_availability(untracked) == {}


@pytest.mark.contract
def test_the_catalog_can_read_what_the_inventory_publishes() -> None:
    assert (
        incompatibilities(inventory_events.StockLevelChanged, catalog_events.StockLevelChanged)
        == []
    )


# ----------------------------------------------------------------------------- integration

integration = pytest.mark.integration


@pytest.fixture
async def js(app: FastAPI, platform: Any) -> AsyncIterator[JetStreamContext]:
    await asyncio.wait_for(app.state.stocking.ready.wait(), timeout=60)
    nc = await nats.connect(platform.nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


async def publish_level(
    js: JetStreamContext, product_id: str, sku: str, *, available: int, version: int
) -> int:
    """Publish the SKU's level as the inventory would; the stream sequence it got."""
    doc = {
        "_id": sku,
        "product_id": product_id,
        "seller_id": None,
        "on_hand": available + 1,
        "reserved": 1,
        "version": version,
        "updated_at": datetime.now(UTC),
    }
    ack = await EventPublisher(js).publish(stock_level_changed(doc, "ADJUSTED"))
    return ack.seq


async def handled(js: JetStreamContext, consumer: str, seq: int) -> bool:
    """The durable has answered every message up to stream sequence ``seq``."""
    info = await js.consumer_info(stream_name("inventory"), consumer)
    return info.ack_floor.stream_seq >= seq


async def eventually(check: Callable[[], Awaitable[Any]], *, within_s: float = 30.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        value = await check()
        if value:
            return value
        assert loop.time() < deadline, f"still {value!r} after {within_s}s"
        await asyncio.sleep(0.1)


async def recorded(db: Any, product_id: str, sku: str) -> dict[str, Any] | None:
    doc = await db[PRODUCTS].find_one({"_id": product_id}, {"stock": 1})
    return next((e for e in (doc or {}).get("stock", []) if e["sku"] == sku), None)


async def with_listing(gql: Gql, world: World) -> tuple[dict[str, Any], str]:
    product = await create(gql, world, ownerSellerId=world.seller_a)
    listing_sku = f"L-{ULID()}"
    await gql.ok(
        UPSERT_LISTING,
        {
            "p": product["id"],
            "i": {
                "sellerId": world.seller_b,
                "sku": listing_sku,
                "price": {"amount": 999, "currency": "USD"},
            },
        },
        roles=["admin"],
    )
    return product, listing_sku


@integration
async def test_a_stock_change_sets_the_offers_and_the_products_availability(
    gql: Gql, world: World, js: JetStreamContext, db: Any
) -> None:
    product, listing_sku = await with_listing(gql, world)
    pid, own = product["id"], product["sku"]

    async def read() -> dict[str, Any]:
        return (await gql.ok(GET, {"id": pid}))["product"]

    await publish_level(js, pid, own, available=0, version=2)
    await eventually(lambda: recorded(db, pid, own))
    # the listing's SKU is not known yet: the listing, in stock, keeps the product in stock
    assert (await read())["availability"] == "IN_STOCK"

    await publish_level(js, pid, listing_sku, available=0, version=2)
    # read through the API (and its cache, invalidated after the write), not the store
    await eventually(lambda: _is(read, "OUT_OF_STOCK"))
    sold_out = await read()
    assert [item["availability"] for item in sold_out["listings"]] == ["OUT_OF_STOCK"]

    await publish_level(js, pid, listing_sku, available=4, version=3)
    await eventually(lambda: _is(read, "IN_STOCK"))
    restocked = await read()
    assert [item["availability"] for item in restocked["listings"]] == ["IN_STOCK"]
    assert restocked["version"] > sold_out["version"]


async def _is(read: Callable[[], Awaitable[dict[str, Any]]], availability: str) -> bool:
    return (await read())["availability"] == availability


@integration
async def test_duplicates_and_older_events_never_overwrite_the_newest_level(
    gql: Gql, world: World, js: JetStreamContext, db: Any, settings: CatalogSettings
) -> None:
    product = await create(gql, world, ownerSellerId=world.seller_a)
    pid, own = product["id"], product["sku"]
    await publish_level(js, pid, own, available=0, version=7)
    await eventually(lambda: recorded(db, pid, own))
    written = await db[PRODUCTS].find_one({"_id": pid}, {"version": 1})

    # a redelivery of the newest and events older than it, each handled on its own (a
    # batch holding them all would fold them before any write)
    consumer = settings.catalog_stock_consumer_name
    for available, version in [(0, 7), (50, 5), (9, 6)]:
        seq = await publish_level(js, pid, own, available=available, version=version)
        await eventually(lambda seq=seq: handled(js, consumer, seq))

    assert await recorded(db, pid, own) == {"sku": own, "available": 0, "version": 7}
    doc = await db[PRODUCTS].find_one({"_id": pid}, {"version": 1, "availability": 1})
    assert doc["availability"] == "OUT_OF_STOCK"
    assert doc["version"] == written["version"]  # the stale events wrote nothing


CREATE_SELLER = "mutation($i: CreateSellerInput!) { createSeller(input: $i) { id } }"


@integration
async def test_stock_writes_and_listing_changes_of_one_product_from_many_writers_are_all_kept(
    gql: Gql, world: World, settings: Any
) -> None:
    """Offers' levels recorded through eight independent stores (as eight catalog replicas'
    consumers would), five versions per SKU in a shuffled order, while four sellers add
    listings: every SKU ends at its newest level and every listing is there."""
    product, listing_sku = await with_listing(gql, world)
    pid, own = product["id"], product["sku"]
    skus = [own, listing_sku, *(f"X-{n}-{ULID()}" for n in range(4))]
    sellers = [
        (await gql.ok(CREATE_SELLER, {"i": {"name": f"Stock {ULID()}"}}, roles=["admin"]))[
            "createSeller"
        ]["id"]
        for _ in range(4)
    ]
    levels = [(sku, version) for sku in skus for version in range(1, 6)]
    random.Random(7).shuffle(levels)
    clients = [AsyncMongoClient(settings.mongo_url) for _ in range(8)]
    stores = [CatalogDb(client[settings.mongo_database]) for client in clients]
    try:
        writes = [
            record_stock_levels(
                db=stores[n % len(stores)],
                cache=None,
                product_id=pid,
                levels=[StockLevel(sku, available=version % 3, version=version)],
            )
            for n, (sku, version) in enumerate(levels)
        ]
        listings = [
            gql.ok(
                UPSERT_LISTING,
                {
                    "p": pid,
                    "i": {
                        "sellerId": seller,
                        "sku": f"S-{ULID()}",
                        "price": {"amount": 1000, "currency": "USD"},
                    },
                },
                roles=["admin"],
            )
            for seller in sellers
        ]
        await asyncio.gather(*writes, *listings)
        doc = await stores[0].raw[PRODUCTS].find_one({"_id": pid})
    finally:
        for client in clients:
            await client.close()

    assert {e["sku"]: (e["version"], e["available"]) for e in doc["stock"]} == dict.fromkeys(
        skus, (5, 5 % 3)
    )
    assert {item["seller_id"] for item in doc["listings"]} == {world.seller_b, *sellers}
    assert doc["availability"] == "IN_STOCK"  # the owner's SKU has 2 units
