"""``emporium-search rebuild``: a new index from the catalog API while events keep flowing."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import opensearchpy
import pytest
from emporium_kit import clients
from emporium_search.app import catalog_client
from emporium_search.indexer import Indexer
from emporium_search.indices import IndexNames
from emporium_search.rebuild import RebuildInProgressError, rebuild
from emporium_search.settings import SearchSettings
from fastapi import FastAPI

pytestmark = pytest.mark.integration

SEARCH = """
query ($filter: SearchFilter) { search(filter: $filter, first: 1) { totalCount } }
"""


@pytest.fixture
async def offline_indexer(settings: SearchSettings, catalog_http: Any) -> Any:
    """An indexer like the one the CLI builds: its own clients, the service's settings."""
    store = clients.opensearch(settings)
    catalog = catalog_client(settings, catalog_http)
    indexer = Indexer(
        store,
        IndexNames(settings.search_index_alias),
        catalog=catalog,
        targets_ttl_s=settings.search_targets_ttl_s,
    )
    yield indexer
    await store.close()


async def indexed(
    client: opensearchpy.AsyncOpenSearch, alias: str, category_id: str
) -> dict[str, Any]:
    """Every document under ``category_id`` (tombstones included: they have no category,
    so they are looked up by id by the caller)."""
    await client.indices.refresh(index=alias)
    response = await client.search(
        index=alias,
        body={
            "size": 1000,
            "version": True,
            "query": {"term": {"category.path_ids": category_id}},
        },
    )
    return {h["_id"]: {**h["_source"], "_version": h["_version"]} for h in response["hits"]["hits"]}


async def test_rebuild_under_concurrent_updates_ends_equal_to_the_catalog(
    *,
    search_app: FastAPI,
    ops: Any,
    search: Any,
    index: Any,
    opensearch: opensearchpy.AsyncOpenSearch,
    settings: SearchSettings,
    offline_indexer: Indexer,
    wait_for: Any,
) -> None:
    alias = settings.search_index_alias
    root = await ops.category("Rebuild Root")
    leaf = await ops.category("Rebuild Leaf", root)
    product_ids = [await ops.product(category_id=leaf, price=1000 + i) for i in range(60)]
    for product_id in product_ids:
        await wait_for(lambda p=product_id: index.at_version(p, 1), within=15)

    async def leaf_hits() -> int:
        data = await search.ok(SEARCH, {"filter": {"categoryId": leaf}})
        return int(data["search"]["totalCount"])

    async def all_searchable() -> bool:
        return await leaf_hits() == len(product_ids)

    # indexed is not yet searchable: a search sees a write after the index's next refresh
    await wait_for(all_searchable, within=15)
    before = (await opensearch.indices.get_alias(name=alias)).keys()

    task = asyncio.create_task(
        rebuild(indexer=offline_indexer, catalog=offline_indexer.catalog, page_size=10)
    )
    rng = random.Random(7)
    changes = 0
    archived: set[str] = set()
    while not task.done():
        product_id = rng.choice([p for p in product_ids if p not in archived])
        action = rng.random()
        if action < 0.5:
            await ops.set_price(product_id, rng.randrange(100, 90_000))
        elif action < 0.8:
            await ops.update(product_id, name=f"Rebuilt {ops.tag} item {rng.randrange(10**6)}")
        elif action < 0.9 and len(archived) < 10:
            await ops.archive(product_id)
            archived.add(product_id)
        else:
            product_ids.append(await ops.product(category_id=leaf, price=rng.randrange(100, 9000)))
        changes += 1
        # searches keep working on the old index while the new one loads
        assert await leaf_hits() > 0
    report = task.result()
    assert changes >= 10, "the rebuild finished before the concurrent updates got going"

    aliases = await opensearch.indices.get_alias(name=alias)
    assert list(aliases) == [report.index]
    assert set(before).isdisjoint(aliases)
    assert not await opensearch.indices.exists(index=",".join(before))
    assert not await opensearch.indices.exists_alias(name=f"{alias}_building")

    async def equal_to_catalog() -> bool:
        active = await ops.products(categoryId=leaf)
        gone = await ops.products(categoryId=leaf, status="ARCHIVED")
        docs = await indexed(opensearch, alias, leaf)
        live = {i: d for i, d in docs.items() if not d["archived"]}
        if set(live) != set(active):
            return False
        for product_id, product in active.items():
            doc = live[product_id]
            if (doc["_version"], doc["min_price"], doc["name"]) != (
                product["version"],
                product["price"]["amount"],
                product["name"],
            ):
                return False
        for product_id, product in gone.items():
            doc = await index.get(product_id)
            if doc is None or not doc["archived"] or doc["_version"] != product["version"]:
                return False
        return True

    await wait_for(equal_to_catalog, within=30, interval=0.5)
    assert report.products >= 60


async def test_a_second_rebuild_refuses_to_run_over_an_unfinished_one(
    *, search_app: FastAPI, settings: SearchSettings, offline_indexer: Indexer, opensearch: Any
) -> None:
    names = offline_indexer.names
    stray = names.new_index()
    await offline_indexer.admin.create_product_index(stray, building=True)
    await offline_indexer.admin.update_aliases([{"add": {"index": stray, "alias": names.building}}])
    with pytest.raises(RebuildInProgressError):
        await rebuild(indexer=offline_indexer, catalog=offline_indexer.catalog)
    assert await opensearch.indices.exists(index=stray)

    report = await rebuild(indexer=offline_indexer, catalog=offline_indexer.catalog, force=True)
    assert not await opensearch.indices.exists(index=stray)
    assert list(await opensearch.indices.get_alias(name=settings.search_index_alias)) == [
        report.index
    ]
