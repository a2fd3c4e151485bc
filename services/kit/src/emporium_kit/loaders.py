"""Per-request keyed loaders: every ``load(key)`` of one tick becomes one batched fetch.

A service's use cases offer batched reads as ``fetch(keys) -> {key: value}``
(``get_products(*, db, cache, ids)``); :func:`keyed_loader` turns one into an aiodataloader
``DataLoader`` for one request, so ``_entities`` for N products, or the sellers of a page of
listings, cost one lookup instead of N::

    products: Loader[str, ProductRead] = keyed_loader(
        lambda ids: get_products(db=db, cache=cache, ids=ids)
    )
    product = await products.load(product_id)  # None when the fetch did not return it

Build loaders in the service's request context factory (:mod:`emporium_kit.context`): a loader
caches what it loaded, so one shared across requests would serve stale values and grow
without bound.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeAlias, TypeVar

from aiodataloader import DataLoader

K = TypeVar("K")
V = TypeVar("V")

Loader: TypeAlias = DataLoader[K, V | None]
"""A keyed loader of ``V`` by ``K``; a key the fetch did not return loads as ``None``."""


def keyed_loader(
    fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]],
    *,
    cache: bool = True,
    max_batch_size: int | None = None,
) -> Loader[K, V]:
    """A loader batching the keys of one tick into ``fetch(keys)`` calls of at most
    ``max_batch_size`` keys, in the order they were first asked for. With ``cache`` (a
    per-request loader) each key is fetched once and the keys are distinct; a long-lived
    batcher passes ``cache=False`` and sees every value fresh. Create it inside the event loop
    that will use it."""

    async def batch(keys: list[K]) -> list[V | None]:
        found = await fetch(keys)
        return [found.get(key) for key in keys]

    return DataLoader(batch_load_fn=batch, cache=cache, max_batch_size=max_batch_size)
