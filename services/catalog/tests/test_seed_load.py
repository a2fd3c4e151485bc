"""`emporium-catalog seed` against the real FerretDB and NATS: idempotent, events via outbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from emporium_catalog import cli, seed, store
from emporium_catalog.products import get_product
from emporium_catalog.settings import CatalogSettings
from emporium_catalog.store import CatalogDb
from emporium_kit.events.outbox import PENDING_FILTER
from pymongo import AsyncMongoClient
from ulid import ULID

pytestmark = pytest.mark.integration

PRODUCTS = 120  # a small demo: the same code path as the default 2,000


@pytest.fixture
async def seed_db(settings: CatalogSettings, session_id: str) -> AsyncIterator[tuple[str, Any]]:
    name = f"catalog_seed_{session_id}_{str(ULID())[-6:].lower()}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    try:
        yield name, client[name]
    finally:
        await client.drop_database(name)
        await client.close()


async def counts(db: Any) -> dict[str, int]:
    return {
        name: await db[name].count_documents({})
        for name in (store.CATEGORIES, store.SELLERS, store.PRODUCTS, store.SKU_CLAIMS)
    }


async def pending(db: Any) -> int:
    return sum(
        [await db[name].count_documents(PENDING_FILTER) for name in store.OUTBOX_COLLECTIONS]
    )


async def test_seed_is_idempotent_and_stages_its_events(seed_db: tuple[str, Any]) -> None:
    _, db = seed_db
    demo = seed.generate(products=PRODUCTS)
    first = await seed.load(db=CatalogDb(db), catalog=demo)
    assert (first.categories, first.sellers, first.products, first.skipped) == (
        len(demo.categories),
        20,
        PRODUCTS,
        [],
    )
    after_first = await counts(db)
    assert after_first == {
        "categories": len(demo.categories),
        "sellers": 20,
        "products": PRODUCTS,
        "sku_claims": sum(len(p["skus"]) for p in demo.products),
    }
    batch = await db[store.SEED_BATCHES].find_one({})
    assert [e["type"] for e in batch["outbox"]] == ["ProductCreated"] * PRODUCTS
    assert await db[store.CATEGORIES].count_documents(PENDING_FILTER) == len(demo.categories)

    second = await seed.load(db=CatalogDb(db), catalog=demo)
    assert (second.categories, second.sellers, second.products) == (0, 0, 0)
    assert await counts(db) == after_first
    assert await db[store.SEED_BATCHES].count_documents({}) == 1  # no second set of events

    product = await get_product(db=CatalogDb(db), cache=None, product_id=demo.products[7]["_id"])
    assert product is not None
    assert product.slug == demo.products[7]["slug"]


async def test_a_bootstrap_seed_stages_no_product_events(seed_db: tuple[str, Any]) -> None:
    """The demo's seed: products in, no ProductCreated staged (its read models build from the
    export); categories still announce themselves."""
    _, db = seed_db
    demo = seed.generate(products=PRODUCTS)
    loaded = await seed.load(db=CatalogDb(db), catalog=demo, product_events=False)
    assert loaded.products == PRODUCTS
    assert await db[store.SEED_BATCHES].count_documents({}) == 0
    assert await db[store.PRODUCTS].count_documents(PENDING_FILTER) == 0
    assert await db[store.CATEGORIES].count_documents(PENDING_FILTER) == len(demo.categories)


async def test_a_crash_before_the_batch_events_is_repaired_by_the_next_run(
    seed_db: tuple[str, Any],
) -> None:
    _, db = seed_db
    demo = seed.generate(products=PRODUCTS)
    await seed.load(db=CatalogDb(db), catalog=demo)
    await db[store.SEED_BATCHES].delete_many({})  # as if the run died after the inserts
    again = await seed.load(db=CatalogDb(db), catalog=demo)
    assert again.products == 0
    batch = await db[store.SEED_BATCHES].find_one({})
    assert len(batch["outbox"]) == PRODUCTS


async def test_seed_command_loads_and_publishes(
    seed_db: tuple[str, Any],
    settings: CatalogSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    name, db = seed_db
    monkeypatch.setenv("EMPORIUM_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("EMPORIUM_MONGO_DATABASE", name)
    monkeypatch.setenv("EMPORIUM_NATS_URL", settings.nats_url)
    assert await _run_cli(["seed", "--products", str(PRODUCTS)]) == 0
    out = capsys.readouterr().out
    assert f"{PRODUCTS} products into {name}" in out
    assert f"published {PRODUCTS + len(seed.generate(products=0).categories)} event(s)" in out
    assert await pending(db) == 0


async def _run_cli(argv: list[str]) -> int:
    """``cli.main`` runs its own event loop; run it in a worker thread from this test loop."""
    return await asyncio.to_thread(cli.main, argv)
