"""Prices and availability from the catalog: event-carried state with a read-through fallback.

The catalog's product events keep one :class:`~emporium_cart.models.ProductState` per product
in Redis (``apply_*``; a state never goes back to an older catalog version). A cart reads
them in one ``MGET``; a product the events have not delivered yet (a cart service started
after the product was created, or a lost Redis) is read through the catalog's subgraph
(federation ``_entities``, behind the ``catalog`` breaker) and stored the same way. The
catalog's database is never read.

A category's path (its ancestors and itself, for category offers) comes from
``CategoryChanged`` events the same way, and from the catalog's answer on a miss.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import httpx
import orjson
from emporium_kit.clients import RedisStore
from emporium_kit.resilience import Dependency, DependencyUnavailable

from emporium_cart.models import CategoryView, ProductState, ProductView
from emporium_cart.store import Keys

log = logging.getLogger(__name__)

ENTITIES_QUERY = """
query CartProducts($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Product {
      id name brand
      category_id: categoryId
      owner_seller_id: ownerSellerId
      sku
      price { amount currency }
      availability status version
      category { id ancestors { id } }
    }
  }
}
"""

# Replace the stored state only with a newer catalog version (atomic: a compare and a set).
APPLY_NEWER = """
local current = redis.call('GET', KEYS[1])
if current then
  local stored = cjson.decode(current)
  if tonumber(stored['version']) > tonumber(ARGV[2]) then return 0 end
  if tonumber(stored['version']) == tonumber(ARGV[2]) and ARGV[3] == '0' then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""


class CatalogClient:
    """The catalog subgraph over HTTP, every call behind ``dependency``."""

    def __init__(self, url: str, *, http: httpx.AsyncClient, dependency: Dependency) -> None:
        self.url = url
        self.http = http
        self.dependency = dependency

    async def products(
        self, ids: Sequence[str]
    ) -> tuple[dict[str, ProductView], dict[str, list[str]]]:
        """Products by id (absent: no such product), and each one's category path."""
        representations = [{"__typename": "Product", "id": product_id} for product_id in ids]
        async with self.dependency.guard():
            response = await self.http.post(
                self.url,
                content=orjson.dumps(
                    {"query": ENTITIES_QUERY, "variables": {"representations": representations}}
                ),
                headers={"content-type": "application/json"},
            )
        response.raise_for_status()
        body = orjson.loads(response.content)
        if body.get("errors") and not body.get("data"):
            raise RuntimeError(f"catalog refused the product query: {body['errors'][0]}")
        products: dict[str, ProductView] = {}
        paths: dict[str, list[str]] = {}
        for entity in (body.get("data") or {}).get("_entities") or []:
            if not entity:
                continue
            product = ProductView.model_validate(entity)
            products[product.id] = product
            category = entity.get("category") or {}
            if category.get("id"):
                paths[category["id"]] = [a["id"] for a in category.get("ancestors", [])] + [
                    category["id"]
                ]
        return products, paths


class Products:
    """The product states of one Redis namespace, with the catalog as the fallback (a tool
    without one, ``catalog=None``, sees the stored states only)."""

    def __init__(self, redis: RedisStore, keys: Keys, catalog: CatalogClient | None) -> None:
        self.redis = redis
        self.keys = keys
        self.catalog = catalog
        self._apply = redis.client.register_script(APPLY_NEWER)

    async def stored(self, ids: Iterable[str]) -> dict[str, ProductState]:
        """The states of ``ids`` held in Redis (no fallback)."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        async with self.redis.dependency.guard():
            raw = await self.redis.client.mget([self.keys.product(i) for i in wanted])
        return {
            state.id: state
            for state in (ProductState.model_validate_json(r) for r in raw if r is not None)
        }

    async def get(self, ids: Iterable[str]) -> dict[str, ProductState]:
        """The states of ``ids`` that exist; misses are read through the catalog (a
        catalog outage leaves them out: the caller decides what an unknown product means)."""
        wanted = list(dict.fromkeys(ids))
        found = await self.stored(wanted)
        missing = [i for i in wanted if i not in found]
        if missing:
            found.update(await self.fetch(missing))
        # a state stored before the cart kept SKUs: refreshed once, kept while unreachable
        if stale := [i for i in wanted if i in found and found[i].sku is None]:
            try:
                found.update(await self.fetch(stale))
            except (DependencyUnavailable, httpx.HTTPError):
                log.warning("catalog unreachable: %d product states without their SKU", len(stale))
        return found

    async def fetch(self, ids: Sequence[str]) -> dict[str, ProductState]:
        if self.catalog is None:
            return {}
        products, paths = await self.catalog.products(ids)
        for category_id, path in paths.items():
            await self.put_category_path(category_id, path)
        states = {p.id: ProductState.of(p) for p in products.values()}
        for state in states.values():
            # the catalog's answer now: also replaces a stored state of the same version
            await self.put(state, same_version=True)
        return states

    async def put(self, state: ProductState, *, same_version: bool = False) -> bool:
        """Store ``state`` unless a newer version is stored (or the same one, unless
        ``same_version``: a price change carries the version of the product update it came
        with); whether it was stored."""
        async with self.redis.dependency.guard():
            stored = await self._apply(
                keys=[self.keys.product(state.id)],
                args=[state.model_dump_json(), state.version, int(same_version)],
            )
        return bool(stored)

    async def apply_product(self, product: ProductView) -> ProductState | None:
        state = ProductState.of(product)
        return state if await self.put(state) else None

    async def apply_price(
        self, product_id: str, version: int, price: dict[str, Any]
    ) -> ProductState | None:
        current = (await self.get([product_id])).get(product_id)
        if current is None or current.version > version:
            return None
        state = current.model_copy(update={"price": price, "version": version})
        return state if await self.put(state, same_version=True) else None

    async def apply_archived(self, product_id: str, version: int) -> ProductState | None:
        current = (await self.get([product_id])).get(product_id)
        if current is None or current.version > version:
            return None
        state = current.model_copy(update={"status": "ARCHIVED", "version": version})
        return state if await self.put(state, same_version=True) else None

    async def apply_category(self, category: CategoryView) -> None:
        if category.change == "DELETED":
            async with self.redis.dependency.guard():
                await self.redis.client.delete(self.keys.category(category.category_id))
            return
        await self.put_category_path(
            category.category_id, [*category.ancestors, category.category_id]
        )

    async def put_category_path(self, category_id: str, path: list[str]) -> None:
        async with self.redis.dependency.guard():
            await self.redis.client.set(self.keys.category(category_id), orjson.dumps(path))

    async def category_paths(self, category_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Each category's path (root first, itself last); an unknown one is just itself."""
        wanted = list(dict.fromkeys(category_ids))
        if not wanted:
            return {}
        async with self.redis.dependency.guard():
            raw = await self.redis.client.mget([self.keys.category(i) for i in wanted])
        return {
            category_id: tuple(orjson.loads(r)) if r is not None else (category_id,)
            for category_id, r in zip(wanted, raw, strict=True)
        }
