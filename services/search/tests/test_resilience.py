"""OpenSearch restarting under the running service: readiness follows it, no event is lost."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import nats
import pytest
from emporium_kit.events import list_dead_letters
from emporium_search.settings import SearchSettings
from fastapi import FastAPI

pytestmark = pytest.mark.integration

SEARCH = """
query ($filter: SearchFilter) { search(filter: $filter) { totalCount } }
"""


async def test_readiness_follows_opensearch_and_events_published_meanwhile_are_indexed(
    *,
    platform: Any,
    search_app: FastAPI,
    search_http: httpx.AsyncClient,
    search: Any,
    ops: Any,
    index: Any,
    settings: SearchSettings,
    wait_for: Any,
) -> None:
    leaf = await ops.category("Resilience")
    product_id = await ops.product(category_id=leaf, price=1500)
    await wait_for(lambda: index.at_version(product_id, 1), within=15)

    async def readiness(status: int) -> bool:
        return (await search_http.get("/readyz")).status_code == status

    assert await readiness(200)
    await asyncio.to_thread(platform.stop, "opensearch")
    try:
        await wait_for(lambda: readiness(503), within=30)
        error = await search.error(SEARCH, {"filter": {"categoryId": leaf}})
        assert error["extensions"]["kind"] == "UNAVAILABLE"
        # the catalog keeps working; its events wait for the index to come back
        await ops.set_price(product_id, 999)
        version = await ops.update(product_id, name=f"Survivor {ops.tag}")
    finally:
        await asyncio.to_thread(platform.start, "opensearch")

    await wait_for(lambda: readiness(200), within=60, interval=0.5)
    doc = await wait_for(lambda: index.at_version(product_id, version), within=90, interval=0.5)
    assert (doc["min_price"], doc["name"]) == (999, f"Survivor {ops.tag}")

    async def searchable() -> bool:
        data = await search.ok(SEARCH, {"filter": {"categoryId": leaf, "maxPrice": 999}})
        return data["search"]["totalCount"] == 1

    await wait_for(searchable, within=10)
    nc = await nats.connect(platform.nats_url)
    try:
        letters = await list_dead_letters(nc.jetstream(), consumer=settings.search_consumer_name)
    finally:
        await nc.close()
    assert letters == []
