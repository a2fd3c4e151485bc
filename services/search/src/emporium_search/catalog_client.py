"""The catalog subgraph, read over HTTP: never the catalog's database.

- :meth:`CatalogClient.products`: products by id through the federation ``_entities``
  field (one request per 100 ids; the indexer asks for a whole batch's ids at once).
- :meth:`CatalogClient.product_pages`: the catalog's ``productExport`` connection (active
  products, newest first: keyed on creation time, so concurrent updates never move a
  product between pages; up to 2,000 a page) for ``emporium-search rebuild``.
- :meth:`CatalogClient.categories` / :meth:`category_tree`: categories by id, or all of them.

Fields are aliased to snake_case in the queries, so responses parse with the same views as
the catalog's event payloads. Every call runs behind the ``catalog`` breaker with a timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import orjson
from emporium_kit.resilience import Dependency, DependencyUnavailable

from emporium_search.models import CategoryView, ProductView

log = logging.getLogger(__name__)

PRODUCT_FIELDS = """
fragment SearchProduct on Product {
  id name description brand
  category_id: categoryId
  owner_seller_id: ownerSellerId
  price { amount currency }
  listings { seller_id: sellerId price { amount currency } availability }
  attributes { name value }
  availability status version
  created_at: createdAt
}
"""

CATEGORY_FIELDS = """
fragment SearchCategory on Category {
  id name version
  parent_id: parentId
  ancestors { id }
}
"""

ENTITIES_QUERY = (
    """
query SearchProducts($representations: [_Any!]!) {
  _entities(representations: $representations) { ...SearchProduct }
}
"""
    + PRODUCT_FIELDS
)

CATEGORY_ENTITIES_QUERY = (
    """
query SearchCategories($representations: [_Any!]!) {
  _entities(representations: $representations) { ...SearchCategory }
}
"""
    + CATEGORY_FIELDS
)

PAGE_QUERY = (
    """
query SearchProductPage($first: Int!, $after: String) {
  productExport(first: $first, after: $after) {
    edges { node { ...SearchProduct } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
    + PRODUCT_FIELDS
)


def _tree_query(levels: int) -> str:
    """``rootCategories { ...c children { ...c children { ... } } }``, ``levels`` deep."""
    inner = "...SearchCategory"
    for _ in range(levels - 1):
        inner = f"...SearchCategory children {{ {inner} }}"
    return f"query SearchCategoryTree {{ rootCategories {{ {inner} }} }}\n" + CATEGORY_FIELDS


# the catalog nests categories at most 6 levels (emporium_catalog.domain.MAX_CATEGORY_DEPTH)
TREE_QUERY = _tree_query(6)
MAX_BATCH = 100
DEFAULT_EXPORT_PAGE = 1000  # the catalog's productExport allows 1..2000
PAGE_TIMEOUT_S = 30.0
PAGE_ATTEMPTS = 5


class CatalogError(RuntimeError):
    """The catalog answered with GraphQL errors."""


class CatalogBusyError(CatalogError):
    """The catalog answered, but only that one of its own dependencies was unavailable, slow or
    saturated: the same request may well succeed a moment later."""


# the kit's codes for a dependency that failed transiently (emporium_kit.resilience)
TRANSIENT_CODES = frozenset(
    {"DEPENDENCY_UNAVAILABLE", "DEPENDENCY_TIMEOUT", "DEPENDENCY_SATURATED"}
)


def _category(raw: dict[str, Any]) -> CategoryView:
    return CategoryView.model_validate(
        {**raw, "ancestors": [a["id"] for a in raw.get("ancestors") or ()]}
    )


class CatalogClient:
    """``CatalogClient(url, http=httpx.AsyncClient(...), dependency=Dependency("catalog"))``."""

    def __init__(self, url: str, *, http: httpx.AsyncClient, dependency: Dependency) -> None:
        self.url = url
        self.dependency = dependency
        self._http = http

    async def _post(
        self, query: str, variables: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        async with self.dependency.guard(timeout_s):
            response = await self._http.post(
                self.url,
                content=orjson.dumps({"query": query, "variables": variables}),
                headers={"content-type": "application/json"},
                timeout=timeout_s or httpx.USE_CLIENT_DEFAULT,
            )
        if response.status_code >= 500:
            response.raise_for_status()
        body = orjson.loads(response.content)
        if errors := body.get("errors"):
            messages = "; ".join(str(e.get("message")) for e in errors)
            codes = {(e.get("extensions") or {}).get("code") for e in errors}
            busy = codes <= TRANSIENT_CODES
            raise (CatalogBusyError if busy else CatalogError)(f"catalog query failed: {messages}")
        data: dict[str, Any] = body["data"]
        return data

    async def products(self, ids: Sequence[str]) -> dict[str, ProductView]:
        """Products by id (archived ones included); ids the catalog does not know are absent."""
        found: dict[str, ProductView] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), MAX_BATCH):
            chunk = unique[start : start + MAX_BATCH]
            representations = [{"__typename": "Product", "id": i} for i in chunk]
            data = await self._post(ENTITIES_QUERY, {"representations": representations})
            for raw in data["_entities"]:
                if raw is not None:
                    product = ProductView.model_validate(raw)
                    found[product.id] = product
        return found

    async def categories(self, ids: Sequence[str]) -> dict[str, CategoryView]:
        found: dict[str, CategoryView] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), MAX_BATCH):
            representations = [
                {"__typename": "Category", "id": i} for i in unique[start : start + MAX_BATCH]
            ]
            data = await self._post(CATEGORY_ENTITIES_QUERY, {"representations": representations})
            for raw in data["_entities"]:
                if raw is not None:
                    category = _category(raw)
                    found[category.id] = category
        return found

    async def category_tree(self) -> list[CategoryView]:
        """Every live category, parents before children."""
        data = await self._post(TREE_QUERY, {}, timeout_s=PAGE_TIMEOUT_S)
        result: list[CategoryView] = []
        level: list[dict[str, Any]] = data["rootCategories"]
        while level:
            result += [_category(raw) for raw in level]
            level = [child for raw in level for child in raw.get("children") or ()]
        return result

    async def product_pages(
        self, *, page_size: int = DEFAULT_EXPORT_PAGE
    ) -> AsyncIterator[list[ProductView]]:
        """Every active product, one page at a time. A rebuild is a batch job: a page gets a
        longer timeout and a few retries before the rebuild gives up."""
        after: str | None = None
        while True:
            variables = {"first": page_size, "after": after}
            for attempt in range(1, PAGE_ATTEMPTS + 1):
                try:
                    data = await self._post(PAGE_QUERY, variables, timeout_s=PAGE_TIMEOUT_S)
                    break
                except (DependencyUnavailable, CatalogBusyError, httpx.TransportError) as exc:
                    if attempt == PAGE_ATTEMPTS:
                        raise
                    log.warning("catalog page failed (attempt %d): %r; retrying", attempt, exc)
                    await asyncio.sleep(attempt)
            connection = data["productExport"]
            page = [ProductView.model_validate(e["node"]) for e in connection["edges"]]
            if page:
                yield page
            info = connection["pageInfo"]
            if not info["hasNextPage"] or not info["endCursor"]:
                return
            after = info["endCursor"]
