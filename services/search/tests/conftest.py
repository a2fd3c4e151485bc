"""Fixtures for the search tests: the real OpenSearch, NATS and FerretDB of the platform.

Everything a session creates is its own: index aliases ``products_t<session>`` (indexing
tests, fed by a real catalog app through NATS) and ``products_t<session>_corpus`` (the fixed
relevance corpus, written directly), a consumer name, Mongo databases. The catalog's events
go to the shared ``EMPORIUM_CATALOG`` stream, so the consumer starts at "new" and the tests
only look at products they created.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import nats
import opensearchpy
import pytest
from asgi_lifespan import LifespanManager
from emporium_catalog.app import create_app as create_catalog_app
from emporium_catalog.settings import CatalogSettings
from emporium_kit.events import stream_name
from emporium_kit.testing import TokenMinter
from emporium_search.app import create_app
from emporium_search.settings import SearchSettings
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from ulid import ULID

T = TypeVar("T")


async def wait_until(
    condition: Callable[[], Awaitable[T]], *, within: float = 15.0, interval: float = 0.1
) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await condition()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {within}s (last value: {last!r})")


@pytest.fixture(scope="session")
def wait_for() -> Callable[..., Awaitable[Any]]:
    """``await wait_for(async_condition, within=15)``: bounded polling, never a bare sleep."""
    return wait_until


@dataclass
class Gql:
    """POSTs GraphQL to an in-process app, optionally with a bearer token."""

    http: httpx.AsyncClient
    token: str | None = None

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        return response.json()

    async def ok(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        body = await self(query, variables)
        assert "errors" not in body, body
        return body["data"]

    async def error(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self(query, variables)
        assert body.get("errors"), body
        return body["errors"][0]


@pytest.fixture(scope="session")
def session_id() -> str:
    return str(ULID()).lower()


def make_settings(platform: Any, session_id: str, **overrides: Any) -> SearchSettings:
    values: dict[str, Any] = {
        "opensearch_url": platform.opensearch_url,
        "mongo_url": platform.mongo_url,
        "nats_url": platform.nats_url,
        "redis_url": platform.redis_url,
        "search_index_alias": f"products_t{session_id}",
        "search_consumer_name": f"search-test-{session_id}",
        "search_consumer_deliver": "new",
        "search_catalog_url": "http://catalog/graphql",
        "search_targets_ttl_s": 0.5,
        "search_outage_wait_s": 240.0,
        "breaker_reset_timeout_s": 1.0,
        "jwks_url": None,
        "jwt_public_key": None,
    }
    return SearchSettings(**{**values, **overrides})


@pytest.fixture(scope="session")
async def opensearch(platform: Any, session_id: str) -> AsyncIterator[opensearchpy.AsyncOpenSearch]:
    """A raw client for assertions; drops every index of the session at the end."""
    client = opensearchpy.AsyncOpenSearch(hosts=[platform.opensearch_url], timeout=30)
    yield client
    try:
        await client.indices.delete(
            index=f"products_t{session_id}*", params={"ignore_unavailable": "true"}
        )
    finally:
        await client.close()


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter()


@pytest.fixture(scope="session")
async def catalog_app(
    platform: Any, session_id: str, minter: TokenMinter
) -> AsyncIterator[FastAPI]:
    """The real catalog service (its outbox relay publishes to NATS), in-process."""
    settings = CatalogSettings(
        mongo_url=platform.mongo_url,
        mongo_database=f"catalog_search_test_{session_id}",
        redis_url=platform.redis_url,
        nats_url=platform.nats_url,
        jwt_public_key=minter.public_key_pem(),
        jwks_url=None,
        catalog_cache_namespace=f"search-test-{session_id}",
        catalog_relay_poll_interval_s=0.1,
    )
    app = create_catalog_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
        await asyncio.wait_for(app.state.outbox.ready.wait(), timeout=60)
        yield app
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.mongo_url)
    try:
        await client.drop_database(str(settings.mongo_database))
    finally:
        await client.close()


@pytest.fixture(scope="session")
async def catalog_http(catalog_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=catalog_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
        yield client


@pytest.fixture(scope="session")
def catalog(catalog_http: httpx.AsyncClient, minter: TokenMinter) -> Gql:
    """The catalog's GraphQL API as an admin."""
    return Gql(catalog_http, minter.mint("search-test-admin", ["admin"]))


@pytest.fixture(scope="session")
def settings_for(platform: Any, session_id: str) -> Callable[..., SearchSettings]:
    """``settings_for(**overrides)``: this session's settings with some values changed."""
    return lambda **overrides: make_settings(platform, session_id, **overrides)


@pytest.fixture(scope="session")
def settings(settings_for: Callable[..., SearchSettings]) -> SearchSettings:
    return settings_for()


@pytest.fixture(scope="session")
def gql_client() -> Callable[[httpx.AsyncClient], Gql]:
    return Gql


@pytest.fixture(scope="session")
async def search_app(
    settings: SearchSettings,
    catalog_http: httpx.AsyncClient,
    opensearch: opensearchpy.AsyncOpenSearch,
) -> AsyncIterator[FastAPI]:
    """The search service with its indexer consuming the catalog's events."""
    app = create_app(settings, catalog_http=catalog_http)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        await asyncio.wait_for(app.state.indexing.ready.wait(), timeout=60)
        yield app
    # the durable consumer would otherwise stay on the shared stream
    nc = await nats.connect(settings.nats_url)
    try:
        await nc.jetstream().delete_consumer(stream_name("catalog"), settings.search_consumer_name)
    finally:
        await nc.close()


@pytest.fixture(scope="session")
async def search_http(search_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=search_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://search") as client:
        yield client


@pytest.fixture(scope="session")
def search(search_http: httpx.AsyncClient) -> Gql:
    return Gql(search_http)


# ------------------------------------------------------------------- catalog and index helpers

CREATE_CATEGORY = """
mutation ($input: CreateCategoryInput!) { createCategory(input: $input) { id name } }
"""
CREATE_SELLER = "mutation ($input: CreateSellerInput!) { createSeller(input: $input) { id } }"
CREATE_PRODUCT = """
mutation ($input: CreateProductInput!) { createProduct(input: $input) { id version } }
"""
UPDATE_PRODUCT = """
mutation ($id: ID!, $input: UpdateProductInput!) {
  updateProduct(id: $id, input: $input) { id version }
}
"""
SET_PRICE = """
mutation ($id: ID!, $price: MoneyInput!) { setPrice(id: $id, price: $price) { id version } }
"""
ARCHIVE = "mutation ($id: ID!) { archiveProduct(id: $id) { id version } }"
UPDATE_CATEGORY = """
mutation ($id: ID!, $input: UpdateCategoryInput!) {
  updateCategory(id: $id, input: $input) { id version }
}
"""
MOVE_CATEGORY = """
mutation ($id: ID!, $parentId: ID) { moveCategory(id: $id, parentId: $parentId) { id version } }
"""
PRODUCTS_PAGE = """
query ($filter: ProductFilter, $after: String) {
  products(filter: $filter, first: 100, after: $after) {
    edges { node { id version price { amount } name status } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@dataclass
class CatalogOps:
    """Changes made through the catalog's public GraphQL API (as an admin)."""

    gql: Gql
    tag: str
    counter: int = 0

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    async def category(self, name: str, parent_id: str | None = None) -> str:
        data = await self.gql.ok(
            CREATE_CATEGORY, {"input": {"name": f"{name} {self.tag}", "parentId": parent_id}}
        )
        return data["createCategory"]["id"]

    async def seller(self, name: str) -> str:
        data = await self.gql.ok(CREATE_SELLER, {"input": {"name": f"{name} {self.tag}"}})
        return data["createSeller"]["id"]

    async def product(
        self, *, category_id: str, name: str | None = None, price: int = 1999, **fields: Any
    ) -> str:
        n = self._next()
        data = await self.gql.ok(
            CREATE_PRODUCT,
            {
                "input": {
                    "name": name or f"Gizmo {self.tag} {n}",
                    "brand": fields.pop("brand", "Acme"),
                    "categoryId": category_id,
                    "sku": f"S{self.tag.upper()}-{n:05d}",
                    "price": {"amount": price, "currency": "USD"},
                    **fields,
                }
            },
        )
        return data["createProduct"]["id"]

    async def update(self, product_id: str, **fields: Any) -> int:
        data = await self.gql.ok(UPDATE_PRODUCT, {"id": product_id, "input": fields})
        return data["updateProduct"]["version"]

    async def set_price(self, product_id: str, amount: int) -> int:
        data = await self.gql.ok(
            SET_PRICE, {"id": product_id, "price": {"amount": amount, "currency": "USD"}}
        )
        return data["setPrice"]["version"]

    async def archive(self, product_id: str) -> int:
        return (await self.gql.ok(ARCHIVE, {"id": product_id}))["archiveProduct"]["version"]

    async def rename_category(self, category_id: str, name: str) -> None:
        await self.gql.ok(UPDATE_CATEGORY, {"id": category_id, "input": {"name": name}})

    async def move_category(self, category_id: str, parent_id: str | None) -> None:
        await self.gql.ok(MOVE_CATEGORY, {"id": category_id, "parentId": parent_id})

    async def products(self, **flt: Any) -> dict[str, dict[str, Any]]:
        """Every product matching ``flt`` (ACTIVE by default), by id."""
        found: dict[str, dict[str, Any]] = {}
        after = None
        while True:
            data = await self.gql.ok(PRODUCTS_PAGE, {"filter": flt, "after": after})
            for edge in data["products"]["edges"]:
                found[edge["node"]["id"]] = edge["node"]
            info = data["products"]["pageInfo"]
            if not info["hasNextPage"]:
                return found
            after = info["endCursor"]


@pytest.fixture(scope="session")
def ops(catalog: Gql, session_id: str) -> CatalogOps:
    return CatalogOps(catalog, session_id[-8:])


@dataclass
class IndexProbe:
    """Reads documents straight from OpenSearch (realtime GET, no refresh needed)."""

    client: opensearchpy.AsyncOpenSearch
    alias: str

    async def get(self, product_id: str) -> dict[str, Any] | None:
        """``{**_source, "_version", "_seq_no"}`` or None."""
        try:
            doc = await self.client.get(index=self.alias, id=product_id)
        except opensearchpy.NotFoundError:
            return None
        return {**doc["_source"], "_version": doc["_version"], "_seq_no": doc["_seq_no"]}

    async def at_version(self, product_id: str, version: int) -> dict[str, Any] | None:
        doc = await self.get(product_id)
        return doc if doc is not None and doc["_version"] >= version else None


@pytest.fixture(scope="session")
def index(opensearch: opensearchpy.AsyncOpenSearch, settings: SearchSettings) -> IndexProbe:
    return IndexProbe(opensearch, settings.search_index_alias)
