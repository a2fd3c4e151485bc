"""Search through the gateway: hits resolve from the catalog, and a hit the catalog cannot
resolve degrades to a null node instead of failing the whole page."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from emporium_platform.harness import GraphQLClient
from emporium_platform.processes import ServiceProcess

from .conftest import CatalogSeed, data, login

pytestmark = pytest.mark.workflow

SEARCH = """
query($q: String!) {
  search(query: $q, first: 10) { totalCount edges { node { id name price { formatted } } } }
}"""
CREATE = """
mutation($i: CreateProductInput!) { createProduct(input: $i) { id name } }"""


def create_product(
    gateway: GraphQLClient, token: str, seed: CatalogSeed, name: str, sku: str
) -> str:
    variables = {
        "i": {
            "name": name,
            "brand": "Phantasm",
            "categoryId": seed.category_id,
            "sku": sku,
            "price": {"amount": 1999, "currency": "USD"},
        }
    }
    return data(gateway.post(CREATE, variables, token=token))["createProduct"]["id"]


def search_until(gateway: GraphQLClient, query: str, count: int, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = data(gateway.post(SEARCH, {"q": query}))["search"]
        if result["totalCount"] >= count or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_a_hit_the_catalog_cannot_resolve_never_fails_the_page(
    *,
    gateway: GraphQLClient,
    admin_credentials: tuple[str, str],
    catalog_seed: CatalogSeed,
    catalog_db: Any,
    catalog: ServiceProcess,
    platform: Any,
    run_id: str,
) -> None:
    token = login(gateway, *admin_credentials).access_token
    word = f"phantasm{run_id}"
    kept = create_product(gateway, token, catalog_seed, f"{word} Lamp", f"PH-{run_id}-1")
    lost = create_product(gateway, token, catalog_seed, f"{word} Kettle", f"PH-{run_id}-2")
    found = search_until(gateway, word, 2)
    assert {e["node"]["id"] for e in found["edges"]} == {kept, lost}

    # the catalog no longer has one of them (as after a lost event or a foreign publisher)
    catalog_db["products"].delete_one({"_id": lost})
    with redis.Redis.from_url(platform.redis_url) as cache:
        namespace = catalog.env["EMPORIUM_CATALOG_CACHE_NAMESPACE"]
        cache.delete(*cache.keys(f"catalog:{namespace}:product:{lost}"))

    response = gateway.post(SEARCH, {"q": word})
    assert response.status_code == 200, response.text
    page = response.json()["data"]["search"]
    nodes = {e["node"]["id"] if e["node"] else None for e in page["edges"]}
    assert nodes == {kept, None}
    kept_node = next(e["node"] for e in page["edges"] if e["node"])
    assert kept_node == {"id": kept, "name": f"{word} Lamp", "price": {"formatted": "$19.99"}}
