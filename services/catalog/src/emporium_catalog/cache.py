"""Redis read-through cache for product reads, safe against the stale-repopulation race.

Keys (under the service prefix ``catalog:`` and a namespace, ``v1`` by default)::

    catalog:v1:product:<id>     "<version>|<ProductRead JSON>"  or the marker "!<version>"
    catalog:v1:slug:<slug>      "<id>"  or "" (no product has this slug, remembered briefly)

The race: a reader misses, loads version 3 from Mongo, and is slow; a writer commits version 4
and invalidates; the reader then stores version 3 and every later read is stale. Deleting the
key cannot prevent that, so invalidation instead *writes a marker* ``!4`` (short TTL) and every
store goes through a Lua script that refuses to write a version older than what the key
already holds (value or marker). The slow reader's version 3 is refused; the next reader
misses (a marker is a miss), loads version 4 and may store it. Values also carry a TTL as a
backstop for the one case the scheme cannot cover: Redis unreachable at invalidation time.

Slug keys only point at ids. A slug that moved to another product is caught on read: the
product fetched by id must still carry the slug, otherwise the mapping is dropped. A slug no
product has is remembered as missing for ``missing_ttl_s`` (a burst of lookups of made-up
slugs costs the store one lookup each, not one per request); writes that claim a slug forget
it, and a reader that raced such a write can hide the new slug for at most that TTL.

Every Redis call runs behind the Redis dependency's breaker; the cache is an optimisation, so
a failing Redis degrades to Mongo reads instead of failing the request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import redis.exceptions
from emporium_kit.clients import RedisStore
from emporium_kit.errors import Unavailable

from emporium_catalog.models import ProductRead

log = logging.getLogger(__name__)

# KEYS[1] key; ARGV[1] version; ARGV[2] payload; ARGV[3] ttl seconds.
# Stores "<version>|<payload>" unless the key holds a value of the same or a newer version, or
# an invalidation marker newer than this version.
_STORE = """
local current = redis.call('GET', KEYS[1])
local version = tonumber(ARGV[1])
if current then
  if string.sub(current, 1, 1) == '!' then
    if version < tonumber(string.sub(current, 2)) then return 0 end
  else
    local held = tonumber(string.match(current, '^(%d+)|'))
    if held and version <= held then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', tonumber(ARGV[3]))
return 1
"""

# KEYS[1] key; ARGV[1] the version just written; ARGV[2] marker ttl seconds.
# Replaces whatever is cached with "!<version>", never lowering an existing marker.
_INVALIDATE = """
local current = redis.call('GET', KEYS[1])
local version = tonumber(ARGV[1])
if current and string.sub(current, 1, 1) == '!' then
  local held = tonumber(string.sub(current, 2))
  if held and held > version then version = held end
end
redis.call('SET', KEYS[1], '!' .. version, 'EX', tonumber(ARGV[2]))
return version
"""

_REDIS_ERRORS = (Unavailable, redis.exceptions.RedisError, OSError)
# what slug_to_id answers for a slug remembered as missing
MISSING = ""


class ProductCache:
    """Product read-through cache: ``get_many``/``store_many`` by id, slug indirection."""

    def __init__(
        self,
        store: RedisStore,
        *,
        namespace: str = "v1",
        ttl_s: int = 300,
        marker_ttl_s: int = 60,
        missing_ttl_s: int = 15,
    ) -> None:
        self._store = store
        self._namespace = namespace
        self._ttl_s = ttl_s
        self._marker_ttl_s = marker_ttl_s
        self._missing_ttl_s = missing_ttl_s
        self._store_script = store.client.register_script(_STORE)
        self._invalidate_script = store.client.register_script(_INVALIDATE)

    def product_key(self, product_id: str) -> str:
        return self._store.key(self._namespace, "product", product_id)

    def slug_key(self, slug: str) -> str:
        return self._store.key(self._namespace, "slug", slug)

    async def get_many(self, ids: Sequence[str]) -> dict[str, ProductRead]:
        """Cached products among ``ids`` (one MGET); markers and misses are left out."""
        if not ids:
            return {}
        try:
            async with self._store.dependency.guard():
                raw = await self._store.client.mget([self.product_key(i) for i in ids])
        except _REDIS_ERRORS as exc:
            log.warning("product cache read failed", extra={"error": type(exc).__name__})
            return {}
        found: dict[str, ProductRead] = {}
        for product_id, value in zip(ids, raw, strict=True):
            # the client does not decode responses: a value is bytes (None when missing)
            if not isinstance(value, bytes) or value.startswith(b"!"):
                continue
            _, _, payload = value.partition(b"|")
            found[product_id] = ProductRead.model_validate_json(payload)
        return found

    async def store_many(self, products: Iterable[ProductRead]) -> None:
        """Populate after a Mongo read; the script refuses anything older than the key holds."""
        products = list(products)
        if not products:
            return
        try:
            async with (
                self._store.dependency.guard(),
                self._store.client.pipeline(transaction=False) as pipe,
            ):
                for product in products:
                    await self._store_script(
                        keys=[self.product_key(product.id)],
                        args=[product.version, product.model_dump_json(), self._ttl_s],
                        client=pipe,
                    )
                await pipe.execute()
        except _REDIS_ERRORS as exc:
            log.warning("product cache store failed", extra={"error": type(exc).__name__})

    async def invalidate(self, product_id: str, version: int, slugs: Iterable[str] = ()) -> None:
        """Called after a successful Mongo write of ``version``; see the module docstring."""
        try:
            async with (
                self._store.dependency.guard(),
                self._store.client.pipeline(transaction=False) as pipe,
            ):
                await self._invalidate_script(
                    keys=[self.product_key(product_id)],
                    args=[version, self._marker_ttl_s],
                    client=pipe,
                )
                for slug in slugs:
                    pipe.delete(self.slug_key(slug))
                await pipe.execute()
        except _REDIS_ERRORS as exc:
            log.error(
                "product cache invalidation failed; stale for at most the TTL",
                extra={"product_id": product_id, "error": type(exc).__name__},
            )

    async def slug_to_id(self, slug: str) -> str | None:
        """The id cached for ``slug``, :data:`MISSING` when it is known to have no product,
        ``None`` when nothing is cached."""
        try:
            async with self._store.dependency.guard():
                value = await self._store.client.get(self.slug_key(slug))
        except _REDIS_ERRORS as exc:
            log.warning("slug cache read failed", extra={"error": type(exc).__name__})
            return None
        return value.decode() if isinstance(value, bytes) else value

    async def remember_slug(self, slug: str, product_id: str) -> None:
        try:
            async with self._store.dependency.guard():
                await self._store.client.set(self.slug_key(slug), product_id, ex=self._ttl_s)
        except _REDIS_ERRORS as exc:
            log.warning("slug cache store failed", extra={"error": type(exc).__name__})

    async def remember_missing_slug(self, slug: str) -> None:
        try:
            async with self._store.dependency.guard():
                await self._store.client.set(self.slug_key(slug), MISSING, ex=self._missing_ttl_s)
        except _REDIS_ERRORS as exc:
            log.warning("slug cache store failed", extra={"error": type(exc).__name__})

    async def forget_slug(self, slug: str) -> None:
        try:
            async with self._store.dependency.guard():
                await self._store.client.delete(self.slug_key(slug))
        except _REDIS_ERRORS as exc:
            log.warning("slug cache delete failed", extra={"error": type(exc).__name__})
