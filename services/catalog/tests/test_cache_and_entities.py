"""Read-through cache and batched federation lookups, observed on the real Redis and Mongo."""

from __future__ import annotations

from typing import Any

import pytest
from emporium_catalog.cache import ProductCache
from emporium_catalog.models import ProductRead
from emporium_catalog.products import ensure_slug_claims
from emporium_catalog.store import SLUG_CLAIMS, CatalogDb
from fastapi import FastAPI
from ulid import ULID

from .conftest import CommandLog, Gql, World, wait_until_published

pytestmark = pytest.mark.integration

CREATE = "mutation($i: CreateProductInput!) { createProduct(input: $i) { id slug version } }"
GET = "query($id: ID!) { product(id: $id) { id name version } }"
RENAME = "mutation($id: ID!, $n: String!) { updateProduct(id: $id, input: {name: $n}) { version } }"
ENTITIES = """
query($r: [_Any!]!) {
  _entities(representations: $r) {
    ... on Product { id name price { formatted } category { id name } listings { seller { name } } }
  }
}"""


async def create(gql: Gql, world: World, name: str) -> dict[str, Any]:
    variables = {
        "i": {
            "name": name,
            "brand": "Cachet",
            "categoryId": world.leaf,
            "sku": f"C-{ULID()}",
            "price": {"amount": 2500, "currency": "USD"},
        }
    }
    return (await gql.ok(CREATE, variables, roles=["admin"]))["createProduct"]


def product_finds(commands: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The service's product reads (they project the outbox away); the outbox relay's own
    lookups, which read only the outbox, are not reads of the API."""
    return [
        cmd
        for name, cmd in commands
        if name == "find"
        and cmd["find"] == "products"
        and cmd.get("projection", {}).get("outbox") == 0
    ]


def cache_of(app: FastAPI) -> ProductCache:
    return app.state.catalog.cache


async def test_a_change_is_visible_on_the_next_read(
    gql: Gql, world: World, app: FastAPI, commands: CommandLog
) -> None:
    product = await create(gql, world, "Cached Kettle")
    cache, redis = cache_of(app), app.state.catalog.cache._store.client
    key = cache.product_key(product["id"])
    assert await redis.get(key) is None

    first = (await gql.ok(GET, {"id": product["id"]}))["product"]
    assert first == {"id": product["id"], "name": "Cached Kettle", "version": 1}
    assert (await redis.get(key)).startswith(b"1|")

    commands.start()
    assert (await gql.ok(GET, {"id": product["id"]}))["product"] == first
    assert product_finds(commands.stop()) == []  # served by Redis

    await gql.ok(RENAME, {"id": product["id"], "n": "Cached Kettle Mk2"}, roles=["admin"])
    assert await redis.get(key) == b"!2"  # invalidated: a marker, not stale data
    second = (await gql.ok(GET, {"id": product["id"]}))["product"]
    assert second == {"id": product["id"], "name": "Cached Kettle Mk2", "version": 2}
    assert (await redis.get(key)).startswith(b"2|")


async def test_a_slow_reader_cannot_put_back_a_stale_version(
    gql: Gql, world: World, app: FastAPI
) -> None:
    product = await create(gql, world, "Racy Toaster")
    cache = cache_of(app)
    version_1 = ProductRead.model_validate(
        (await cache_get_from_mongo(app, product["id"])) | {"id": product["id"]}
    )
    await gql.ok(RENAME, {"id": product["id"], "n": "Racy Toaster 2"}, roles=["admin"])
    # the reader that loaded version 1 before the write now tries to cache it
    await cache.store_many([version_1])
    assert await cache.get_many([product["id"]]) == {}
    fresh = (await gql.ok(GET, {"id": product["id"]}))["product"]
    assert fresh["name"] == "Racy Toaster 2"
    # and once version 2 is cached, version 1 still cannot replace it
    await cache.store_many([version_1])
    cached = await cache.get_many([product["id"]])
    assert cached[product["id"]].version == 2


async def cache_get_from_mongo(app: FastAPI, product_id: str) -> dict[str, Any]:
    doc = await app.state.catalog.db.raw["products"].find_one({"_id": product_id}, {"outbox": 0})
    assert doc is not None
    return doc


async def test_entities_resolve_in_one_batch_of_id_lookups(
    gql: Gql, world: World, commands: CommandLog
) -> None:
    products = [await create(gql, world, f"Entity {i}") for i in range(5)]
    representations = [{"__typename": "Product", "id": p["id"]} for p in products]
    representations.append({"__typename": "Product", "id": "01JNOSUCHPRODUCT000000000"})

    commands.start()
    data = await gql.ok(ENTITIES, {"r": representations})
    log = commands.stop()
    entities = data["_entities"]
    assert [e["id"] for e in entities[:5]] == [p["id"] for p in products]
    assert entities[5] is None
    assert entities[0]["category"] == {"id": world.leaf, "name": entities[0]["category"]["name"]}
    finds = product_finds(log)
    # one DataLoader batch, read as one lone `_id` lookup per id (FerretDB 1.24 indexes only
    # that; `$in` would scan the collection), never one query per representation call
    assert sorted(f["filter"]["_id"] for f in finds) == sorted(r["id"] for r in representations)
    assert all(set(f["filter"]) == {"_id"} for f in finds), finds
    # the category loader's batch reads by `$in` (a small collection); the outbox relay's
    # single-document reads of categories written by earlier tests may land in the window
    category_finds = [
        cmd
        for name, cmd in log
        if name == "find"
        and cmd["find"] == "categories"
        and isinstance(cmd["filter"].get("_id"), dict)
    ]
    assert len(category_finds) == 1, category_finds

    commands.start()
    again = await gql.ok(ENTITIES, {"r": representations[:5]})
    log = commands.stop()
    assert again["_entities"] == entities[:5]
    assert product_finds(log) == []  # all five came from one Redis MGET


BY_SLUGS = (
    "query {"
    + " ".join(f's{i}: productBySlug(slug: "$SLUG-{i}") {{ id }}' for i in range(15))
    + " }"
)
BY_SLUG = "query($s: String!) { productBySlug(slug: $s) { id slug } }"


def only_id_lookups(log: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every find of the log, asserting each one is a lone ``_id`` equality: the one query
    FerretDB 1.24 answers from an index rather than by decoding the collection."""
    finds = [cmd for name, cmd in log if name == "find"]
    for cmd in finds:
        assert set(cmd["filter"]) == {"_id"}, cmd["filter"]
        assert isinstance(cmd["filter"]["_id"], str), cmd["filter"]
    return finds


async def test_slug_lookups_never_scan_and_misses_are_remembered(
    gql: Gql, world: World, commands: CommandLog, app: FastAPI, http: Any
) -> None:
    product = await create(gql, world, f"Slugged {ULID()}")
    # the outbox relay's own reads and removal for the new product are not the API's
    await wait_until_published(app.state.catalog.db.raw, product["id"])
    await cache_of(app).forget_slug(product["slug"])

    commands.start()
    found = await gql.ok(BY_SLUG, {"s": product["slug"]})
    assert found["productBySlug"] == {"id": product["id"], "slug": product["slug"]}
    assert only_id_lookups(commands.stop())

    # fifteen made-up slugs: fifteen _id lookups of claims, no product scan ...
    prefix = f"no-such-{str(ULID()).lower()}"
    query = BY_SLUGS.replace("$SLUG", prefix)
    commands.start()
    missing = await gql.ok(query)
    first = commands.stop()
    assert missing == {f"s{i}": None for i in range(15)}
    assert len(only_id_lookups(first)) == 15
    # ... and the same burst again costs the store nothing
    commands.start()
    assert await gql.ok(query) == missing
    assert commands.stop() == []
    ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text

    # a slug remembered as missing is found as soon as a product claims it
    variables = {
        "i": {
            "name": "Late Arrival",
            "slug": f"{prefix}-3",
            "brand": "Cachet",
            "categoryId": world.leaf,
            "sku": f"C-{ULID()}",
            "price": {"amount": 2500, "currency": "USD"},
        }
    }
    late = (await gql.ok(CREATE, variables, roles=["admin"]))["createProduct"]
    again = await gql.ok(BY_SLUG, {"s": f"{prefix}-3"})
    assert again["productBySlug"] == {"id": late["id"], "slug": f"{prefix}-3"}


RESLUG = "mutation($id: ID!, $s: String!) { updateProduct(id: $id, input: {slug: $s}) { slug } }"


async def test_a_changed_slug_moves_and_frees_the_old_one(gql: Gql, world: World) -> None:
    product = await create(gql, world, f"Mover {ULID()}")
    old, new = product["slug"], f"moved-{str(ULID()).lower()}"
    moved = await gql.ok(RESLUG, {"id": product["id"], "s": new}, roles=["admin"])
    assert moved["updateProduct"]["slug"] == new
    assert (await gql.ok(BY_SLUG, {"s": old}))["productBySlug"] is None
    assert (await gql.ok(BY_SLUG, {"s": new}))["productBySlug"]["id"] == product["id"]
    other = await create(gql, world, f"Other {ULID()}")
    taken = await gql(RESLUG, {"id": other["id"], "s": new}, roles=["admin"])
    assert taken["errors"][0]["extensions"]["code"] == "SLUG_TAKEN"
    freed = await gql.ok(RESLUG, {"id": other["id"], "s": old}, roles=["admin"])
    assert freed["updateProduct"]["slug"] == old
    assert (await gql.ok(BY_SLUG, {"s": old}))["productBySlug"]["id"] == other["id"]


async def test_slug_claims_are_backfilled_for_catalogs_written_before_them(
    gql: Gql, world: World, db: Any, store: CatalogDb, app: FastAPI
) -> None:
    product = await create(gql, world, f"Legacy {ULID()}")
    await db[SLUG_CLAIMS].delete_many({})
    assert (await gql.ok(BY_SLUG, {"s": product["slug"]}))["productBySlug"] is None
    await cache_of(app).forget_slug(product["slug"])  # the miss just remembered
    await ensure_slug_claims(db=store)
    await ensure_slug_claims(db=store)  # idempotent
    found = await gql.ok(BY_SLUG, {"s": product["slug"]})
    assert found["productBySlug"]["id"] == product["id"]
