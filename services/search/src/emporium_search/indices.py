"""Index and alias names, and the index administration the indexer and rebuild share.

With the alias ``products`` (``EMPORIUM_SEARCH_INDEX_ALIAS``):

| name | what |
|---|---|
| ``products`` | alias: the index every search reads and every writer writes |
| ``products_<UTC timestamp, 20 digits>`` | the product indices (the first is ``products_000…0``) |
| ``products_building`` | alias on the index a rebuild is loading; writers write it too |
| ``products_categories`` | the category table used to denormalise category paths |

Writers always write through the aliases with ``require_alias``: a write aimed at an alias
that a rebuild just removed fails instead of auto-creating a stray index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import opensearchpy
from emporium_kit.clients import OpenSearchStore

from emporium_search import mapping

ADMIN_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class IndexNames:
    alias: str

    @property
    def building(self) -> str:
        return f"{self.alias}_building"

    @property
    def categories(self) -> str:
        return f"{self.alias}_categories"

    @property
    def first_index(self) -> str:
        """The index a fresh installation starts with: the same name for every replica, so
        replicas bootstrapping at once create one index, not one each."""
        return f"{self.alias}_{0:020d}"

    def new_index(self, now: datetime | None = None) -> str:
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        return f"{self.alias}_{moment:%Y%m%d%H%M%S%f}"

    def is_product_index(self, name: str) -> bool:
        return re.fullmatch(rf"{re.escape(self.alias)}_\d{{20}}", name) is not None


@dataclass(frozen=True, slots=True)
class AliasState:
    """Which concrete indices the live and the building alias point to."""

    live: tuple[str, ...]
    building: tuple[str, ...]


class IndexAdmin:
    """Index and alias operations, each behind the OpenSearch breaker."""

    def __init__(self, store: OpenSearchStore, names: IndexNames, *, shards: int, replicas: int):
        self.store = store
        self.client = store.client
        self.names = names
        self.shards = shards
        self.replicas = replicas

    async def aliases(self) -> AliasState:
        names = self.names
        async with self.store.dependency.guard():
            rows: list[dict[str, Any]] = await self.client.cat.aliases(
                name=f"{names.alias},{names.building}", format="json"
            )
        live = sorted(r["index"] for r in rows if r["alias"] == names.alias)
        building = sorted(r["index"] for r in rows if r["alias"] == names.building)
        return AliasState(tuple(live), tuple(building))

    async def create_if_missing(self, index: str, body: dict[str, Any]) -> bool:
        """Create ``index``; False when it already existed (another replica was first)."""
        try:
            async with self.store.dependency.guard(ADMIN_TIMEOUT_S):
                await self.client.indices.create(
                    index=index, body=body, params={"request_timeout": ADMIN_TIMEOUT_S}
                )
        except opensearchpy.RequestError as exc:
            if exc.error == "resource_already_exists_exception":
                return False
            raise
        return True

    async def create_product_index(self, index: str, *, building: bool) -> bool:
        body = mapping.product_index_body(
            shards=self.shards, replicas=self.replicas, building=building
        )
        return await self.create_if_missing(index, body)

    async def bootstrap(self) -> None:
        """Make sure the category table and the live alias exist (idempotent)."""
        await self.create_if_missing(
            self.names.categories,
            mapping.category_index_body(shards=1, replicas=self.replicas),
        )
        if (await self.aliases()).live:
            return
        await self.create_product_index(self.names.first_index, building=False)
        await self.update_aliases(
            [{"add": {"index": self.names.first_index, "alias": self.names.alias}}]
        )

    async def update_aliases(self, actions: Sequence[dict[str, Any]]) -> None:
        """Apply alias actions atomically (one ``_aliases`` call)."""
        async with self.store.dependency.guard(ADMIN_TIMEOUT_S):
            await self.client.indices.update_aliases(
                body={"actions": list(actions)}, params={"request_timeout": ADMIN_TIMEOUT_S}
            )

    async def refresh(self, index: str) -> None:
        async with self.store.dependency.guard(ADMIN_TIMEOUT_S):
            await self.client.indices.refresh(
                index=index, params={"request_timeout": ADMIN_TIMEOUT_S}
            )

    async def serve(self, index: str) -> None:
        """Switch a freshly loaded index to serving settings and make everything visible."""
        async with self.store.dependency.guard(ADMIN_TIMEOUT_S):
            await self.client.indices.put_settings(
                index=index,
                body=mapping.serving_settings(replicas=self.replicas),
                params={"request_timeout": ADMIN_TIMEOUT_S},
            )
        await self.refresh(index)

    async def delete(self, indices: Sequence[str]) -> None:
        """Delete product indices (refuses any other name: never the category table)."""
        for index in indices:
            if not self.names.is_product_index(index):
                raise ValueError(f"refusing to delete {index!r}: not a {self.names.alias} index")
        if not indices:
            return
        async with self.store.dependency.guard(ADMIN_TIMEOUT_S):
            await self.client.indices.delete(
                index=",".join(indices),
                params={"request_timeout": ADMIN_TIMEOUT_S, "ignore_unavailable": "true"},
            )

    async def count(self, index: str) -> int:
        async with self.store.dependency.guard():
            result = await self.client.count(index=index)
        return int(result["count"])
