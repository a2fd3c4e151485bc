"""The write side: catalog changes become index documents, in any order, any number of times.

Every product write is a whole document written with the product's catalog ``version`` as
OpenSearch's external version (``version_type=external``): OpenSearch keeps a document only
if its version is higher than the stored one, so a late, replayed or duplicate event gets a
409 conflict, which means "already applied" and is counted, not raised.

Category names and ancestors are denormalised into product documents. When a category
changes, the category table (``<alias>_categories``, external version = the category's
version) is written first, then the products under it are rewritten at their *own* version
(``external_gte``: same version, fresh category path). A writer that read the category table
just before such a change could write a stale path after the rewrite scanned; so every
product write re-reads the sequence numbers of the categories it used and rewrites the
products whose categories moved meanwhile (:meth:`Indexer.upsert`).

Writes go to every *target*: the live alias, plus the building alias while a rebuild loads
a new index (see :mod:`emporium_search.rebuild`). The target list is cached for
``targets_ttl_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import opensearchpy
import orjson
from emporium_kit.clients import OpenSearchStore

from emporium_search.catalog_client import CatalogClient
from emporium_search.documents import (
    CategoryPath,
    affected,
    category_document,
    category_from_document,
    category_path,
    category_tombstone,
    is_tombstone,
    product_document,
    product_from_document,
    tombstone,
)
from emporium_search.indices import IndexAdmin, IndexNames
from emporium_search.models import CategoryView, Money, ProductView

log = logging.getLogger(__name__)

BULK_TIMEOUT_S = 60.0
MAX_RECHECKS = 5
SCAN_PAGE = 500

Stamp = tuple[int, int]  # (_seq_no, _primary_term): changes on every write of a document


class IndexingError(RuntimeError):
    """OpenSearch refused a write for a reason other than a version conflict."""


class IndexNotReadyError(RuntimeError):
    """The live alias does not exist yet (the service has not bootstrapped)."""


@dataclass
class WriteResult:
    written: int = 0
    conflicts: int = 0

    def add(self, other: WriteResult) -> WriteResult:
        self.written += other.written
        self.conflicts += other.conflicts
        return self


@dataclass
class _Snapshot:
    """The categories a batch of product documents was built from."""

    categories: dict[str, CategoryView] = field(default_factory=dict)
    stamps: dict[str, Stamp | None] = field(default_factory=dict)

    def path(self, category_id: str) -> CategoryPath:
        return category_path(category_id, self.categories)


@dataclass(frozen=True, slots=True)
class _Doc:
    id: str
    version: int
    source: dict[str, Any]


class Indexer:
    """``Indexer(store, names, catalog=CatalogClient(...) or None, targets_ttl_s=1.0)``."""

    def __init__(
        self,
        store: OpenSearchStore,
        names: IndexNames,
        *,
        catalog: CatalogClient | None = None,
        shards: int = 1,
        replicas: int = 0,
        targets_ttl_s: float = 1.0,
    ) -> None:
        self.store = store
        self.client = store.client
        self.names = names
        self.catalog = catalog
        self.admin = IndexAdmin(store, names, shards=shards, replicas=replicas)
        self.targets_ttl_s = targets_ttl_s
        self._targets: tuple[str, ...] | None = None
        self._targets_at = 0.0
        # category id -> ancestor ids, as last read: lets one mget fetch a category and its
        # ancestors together (always verified against what the mget returns)
        self._ancestors: dict[str, tuple[str, ...]] = {}

    # -- targets ------------------------------------------------------------------------

    async def targets(self, *, fresh: bool = False) -> tuple[str, ...]:
        """The aliases a write goes to: the live one, plus the building one during a rebuild."""
        now = time.monotonic()
        if not fresh and self._targets is not None and now - self._targets_at < self.targets_ttl_s:
            return self._targets
        state = await self.admin.aliases()
        if not state.live:
            raise IndexNotReadyError(f"alias {self.names.alias} does not exist yet")
        self._targets = (self.names.alias, *((self.names.building,) if state.building else ()))
        self._targets_at = now
        return self._targets

    def forget_targets(self) -> None:
        self._targets = None

    # -- products -----------------------------------------------------------------------

    async def upsert(
        self,
        products: Sequence[ProductView],
        *,
        targets: Sequence[str] | None = None,
        same_version: bool = False,
        popularity: Mapping[str, float] | None = None,
    ) -> WriteResult:
        """Write products (tombstones for archived ones) at their versions.

        ``same_version`` rewrites a product at the version it already has (category
        changes, popularity). ``popularity`` defaults to what the live index holds.
        """
        latest: dict[str, ProductView] = {}
        for product in products:
            if product.id not in latest or product.version > latest[product.id].version:
                latest[product.id] = product
        result = WriteResult()
        archived = [p for p in latest.values() if p.archived]
        active = [p for p in latest.values() if not p.archived]
        if archived:
            docs = [_Doc(p.id, p.version, tombstone(p.id, p.version)) for p in archived]
            result.add(await self._write(docs, targets, same_version=same_version))
        if not active:
            return result
        snapshot, stored = await self._resolve(
            {p.category_id for p in active},
            popularity_of=[] if popularity is not None else [p.id for p in active],
        )
        signals = popularity if popularity is not None else stored
        pending = active
        for attempt in range(MAX_RECHECKS):
            docs = [
                _Doc(
                    p.id,
                    p.version,
                    product_document(p, snapshot.path(p.category_id), popularity=signals.get(p.id)),
                )
                for p in pending
            ]
            result.add(await self._write(docs, targets, same_version=same_version or attempt > 0))
            now = await self._stamps(snapshot.stamps)
            changed = {i for i, stamp in snapshot.stamps.items() if now.get(i) != stamp}
            if not changed:
                return result
            paths = {p.category_id: snapshot.path(p.category_id) for p in pending}
            pending = affected(pending, changed, paths)
            log.info("categories changed while writing; rewriting %d products", len(pending))
            snapshot, _ = await self._resolve({p.category_id for p in pending})
        raise IndexingError("categories kept changing while products were written")

    async def archive(self, product_id: str, version: int) -> WriteResult:
        return await self._write([_Doc(product_id, version, tombstone(product_id, version))], None)

    async def apply_price(self, product_id: str, version: int, price: Money) -> WriteResult:
        """A price change carries only the price: patch the indexed document when it is the
        version just before this one, otherwise read the product from the catalog."""
        current = await self.get(product_id)
        if current is not None and current[1] >= version:
            return WriteResult(conflicts=1)
        if current is not None and current[1] == version - 1 and not is_tombstone(current[0]):
            product = product_from_document(current[0], version=version)
            return await self.upsert([product.model_copy(update={"price": price})])
        return await self.refetch([product_id])

    async def refetch(self, product_ids: Iterable[str]) -> WriteResult:
        """Index the catalog's current state of these products (whatever version it is)."""
        if self.catalog is None:
            raise IndexingError("no catalog client configured to fetch products from")
        ids = list(dict.fromkeys(product_ids))
        found = await asyncio.gather(*(self.catalog.load_product(i) for i in ids))
        products = [p for p in found if p is not None]
        if len(products) < len(ids):
            log.warning(
                "catalog does not know %d of %d products", len(ids) - len(products), len(ids)
            )
        return await self.upsert(products)

    async def set_popularity(self, product_id: str, popularity: float) -> WriteResult:
        """Store a popularity signal (order counts) at the product's current version."""
        result = WriteResult()
        for alias in await self.targets():
            for _ in range(MAX_RECHECKS):
                current = await self.get(product_id, index=alias)
                if current is None or is_tombstone(current[0]):
                    break
                product = product_from_document(current[0], version=current[1])
                written = await self.upsert(
                    [product],
                    targets=[alias],
                    same_version=True,
                    popularity={product_id: popularity},
                )
                result.add(written)
                if not written.conflicts:
                    break
        return result

    async def get(
        self, product_id: str, *, index: str | None = None
    ) -> tuple[dict[str, Any], int] | None:
        """The stored document and its version (realtime), or None."""
        try:
            async with self.store.dependency.guard():
                doc = await self.client.get(index=index or self.names.alias, id=product_id)
        except opensearchpy.NotFoundError:
            return None
        return doc["_source"], int(doc["_version"])

    async def copy_tombstones(self, *, source: str, target: str) -> WriteResult:
        """Copy the archived-product tombstones of ``source`` into ``target`` (a rebuild
        carries them over so a replayed old event cannot revive an archived product)."""
        await self.admin.refresh(source)
        result = WriteResult()
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": SCAN_PAGE,
                "version": True,
                "query": {"term": {"archived": True}},
                "sort": [{"id": "asc"}],
            }
            if after is not None:
                body["search_after"] = after
            async with self.store.dependency.guard(BULK_TIMEOUT_S):
                response = await self.client.search(index=source, body=body)
            hits = response["hits"]["hits"]
            if not hits:
                return result
            docs = [_Doc(h["_id"], h["_version"], tombstone(h["_id"], h["_version"])) for h in hits]
            result.add(await self._write(docs, [target]))
            after = hits[-1]["sort"]

    # -- categories ---------------------------------------------------------------------

    async def put_categories(self, categories: Iterable[CategoryView]) -> WriteResult:
        docs = [_Doc(c.id, c.version, category_document(c)) for c in categories]
        return await self._write(docs, [self.names.categories], aliases=False)

    async def delete_category(self, category_id: str, version: int) -> WriteResult:
        doc = _Doc(category_id, version, category_tombstone(category_id, version))
        return await self._write([doc], [self.names.categories], aliases=False)

    async def reindex_category(self, category_id: str) -> WriteResult:
        """Rewrite every product under ``category_id`` with its current category path."""
        result = WriteResult()
        for alias in await self.targets(fresh=True):
            try:
                result.add(await self._reindex_category_in(alias, category_id))
            except opensearchpy.NotFoundError:
                if alias == self.names.alias:
                    raise IndexNotReadyError(f"alias {alias} does not exist") from None
                # the building alias went away: that rebuild just finished (or was abandoned)
                self.forget_targets()
        return result

    async def _reindex_category_in(self, alias: str, category_id: str) -> WriteResult:
        result = WriteResult()
        await self.admin.refresh(alias)
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": SCAN_PAGE,
                "version": True,
                "query": {
                    "bool": {
                        "filter": [{"term": {"category.path_ids": category_id}}],
                        "must_not": [{"term": {"archived": True}}],
                    }
                },
                "sort": [{"id": "asc"}],
            }
            if after is not None:
                body["search_after"] = after
            async with self.store.dependency.guard(BULK_TIMEOUT_S):
                response = await self.client.search(index=alias, body=body)
            hits = response["hits"]["hits"]
            if not hits:
                return result
            products = [product_from_document(h["_source"], version=h["_version"]) for h in hits]
            signals = {
                h["_id"]: h["_source"]["popularity"] for h in hits if "popularity" in h["_source"]
            }
            result.add(
                await self.upsert(products, targets=[alias], same_version=True, popularity=signals)
            )
            after = hits[-1]["sort"]

    async def _resolve(
        self, category_ids: set[str], *, popularity_of: Sequence[str] = ()
    ) -> tuple[_Snapshot, dict[str, float]]:
        """Read the categories (and their ancestors) a batch needs, in as few mgets as the
        tree depth allows; categories never seen are fetched from the catalog once. The
        popularity of ``popularity_of`` rides along in the first mget."""
        snapshot = _Snapshot()
        popularity: dict[str, float] = {}
        wanted = set(category_ids)
        for category_id in category_ids:
            wanted.update(self._ancestors.get(category_id, ()))
        asked_catalog: set[str] = set()
        extra = list(popularity_of)
        while ask := sorted(wanted - snapshot.stamps.keys()):
            docs: list[dict[str, Any]] = [{"_index": self.names.categories, "_id": i} for i in ask]
            docs += [
                {"_index": self.names.alias, "_id": p, "_source": ["popularity"]} for p in extra
            ]
            response = await self._mget(docs)
            for category_id, doc in zip(ask, response[: len(ask)], strict=True):
                if not doc.get("found"):
                    snapshot.stamps[category_id] = None
                    continue
                snapshot.stamps[category_id] = (doc["_seq_no"], doc["_primary_term"])
                view = category_from_document(doc["_source"], version=doc["_version"])
                if view is not None:
                    snapshot.categories[category_id] = view
                    self._ancestors[category_id] = tuple(view.ancestors)
                    wanted.update(view.ancestors)
            for product_id, doc in zip(extra, response[len(ask) :], strict=True):
                value = (doc.get("_source") or {}).get("popularity") if doc.get("found") else None
                if value is not None:
                    popularity[product_id] = float(value)
            extra = []
            unknown = [i for i in ask if snapshot.stamps[i] is None and i not in asked_catalog]
            if unknown and self.catalog is not None:
                asked_catalog.update(unknown)
                fetched = await self.catalog.categories(unknown)
                if fetched:
                    await self.put_categories(fetched.values())
                    for category_id in fetched:
                        del snapshot.stamps[category_id]  # read it back (with its stamp)
        return snapshot, popularity

    async def _stamps(self, category_ids: Iterable[str]) -> dict[str, Stamp | None]:
        ids = list(category_ids)
        if not ids:
            return {}
        docs = [{"_index": self.names.categories, "_id": i, "_source": False} for i in ids]
        response = await self._mget(docs)
        return {
            i: (d["_seq_no"], d["_primary_term"]) if d.get("found") else None
            for i, d in zip(ids, response, strict=True)
        }

    async def _mget(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        async with self.store.dependency.guard():
            response = await self.client.mget(body={"docs": docs}, params={"realtime": "true"})
        found: list[dict[str, Any]] = response["docs"]
        return found

    # -- bulk ---------------------------------------------------------------------------

    async def _write(
        self,
        docs: Sequence[_Doc],
        targets: Sequence[str] | None,
        *,
        same_version: bool = False,
        aliases: bool = True,
    ) -> WriteResult:
        """Bulk-write ``docs`` to every target with external versions.

        A 409 is a newer (or, for ``external``, the same) version already stored. A target
        alias that disappeared (a rebuild just finished) is skipped. Anything else raises.
        """
        if not docs:
            return WriteResult()
        indices = list(targets) if targets is not None else list(await self.targets())
        version_type = "external_gte" if same_version else "external"
        lines: list[bytes] = []
        for index in indices:
            for doc in docs:
                action = {
                    "_index": index,
                    "_id": doc.id,
                    "version": doc.version,
                    "version_type": version_type,
                }
                lines.append(orjson.dumps({"index": action}))
                lines.append(orjson.dumps(doc.source))
        params: dict[str, Any] = {"request_timeout": BULK_TIMEOUT_S}
        if aliases:
            params["require_alias"] = "true"
        async with self.store.dependency.guard(BULK_TIMEOUT_S):
            response = await self.client.bulk(body=b"\n".join(lines) + b"\n", params=params)
        result = WriteResult()
        vanished: set[str] = set()
        failures: list[str] = []
        for position, item in enumerate(response["items"]):
            outcome = item["index"]
            status = outcome["status"]
            if status < 300:
                result.written += 1
            elif status == 409:
                result.conflicts += 1
            elif (
                status == 404
                and outcome.get("error", {}).get("type") == "index_not_found_exception"
            ):
                vanished.add(indices[position // len(docs)])
            else:
                failures.append(f"{outcome.get('_id')}: {status} {outcome.get('error')}")
        if vanished:
            self.forget_targets()
            if self.names.alias in vanished:
                raise IndexNotReadyError(f"alias {self.names.alias} does not exist")
            log.info("write targets %s vanished (rebuild finished); skipped", sorted(vanished))
        if failures:
            raise IndexingError(f"{len(failures)} document(s) refused, e.g. {failures[0]}")
        return result
