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


@dataclass(frozen=True, slots=True)
class Change:
    """One event's effect on one product, for :meth:`Indexer.apply`: a whole product
    (created, updated), a new price, or an archive, at the product's ``version``."""

    key: str  # the event id: failures are reported per key
    product_id: str
    version: int
    product: ProductView | None = None
    price: Money | None = None
    archived: bool = False


@dataclass(slots=True)
class _State:
    """What a product's document should be after the changes folded so far."""

    version: int = 0  # 0: nothing known
    product: ProductView | None = None  # None with a version: a tombstone
    changed: bool = False


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
        failed: dict[str, str] | None = None,
    ) -> WriteResult:
        """Write products (tombstones for archived ones) at their versions.

        ``same_version`` rewrites a product at the version it already has (category
        changes, popularity). ``popularity`` defaults to what the live index holds. With
        ``failed`` given, a document OpenSearch refuses is recorded there (product id ->
        reason) instead of raising, and the others are written.
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
            result.add(await self._write(docs, targets, same_version=same_version, failed=failed))
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
            result.add(
                await self._write(
                    docs, targets, same_version=same_version or attempt > 0, failed=failed
                )
            )
            now = await self._stamps(snapshot.stamps)
            changed = {i for i, stamp in snapshot.stamps.items() if now.get(i) != stamp}
            if not changed:
                return result
            paths = {p.category_id: snapshot.path(p.category_id) for p in pending}
            pending = [p for p in affected(pending, changed, paths) if p.id not in (failed or {})]
            log.info("categories changed while writing; rewriting %d products", len(pending))
            snapshot, _ = await self._resolve({p.category_id for p in pending})
        raise IndexingError("categories kept changing while products were written")

    async def apply(self, changes: Sequence[Change]) -> tuple[WriteResult, dict[str, str]]:
        """Apply a batch of product changes with one bulk write per kind of document.

        The changes of each product are folded in order into the document it ends up with:
        a price change patches the product as the batch (or, failing that, the index) has it
        at the version just before; with a gap it reads the product from the catalog, which
        has at least that version. Changes at or below the version already reached are no-ops
        (the index's external versions would refuse them anyway). Returns what was written
        and, per change key, why its product's write was refused (other products of the
        batch are written regardless); a dependency outage raises.
        """
        by_product: dict[str, list[Change]] = {}
        for change in changes:
            by_product.setdefault(change.product_id, []).append(change)
        # only a product whose first change is a price needs its indexed document
        stored = await self._current([i for i, cs in by_product.items() if cs[0].price])
        states: dict[str, _State] = {}
        refetch: list[str] = []
        for product_id, product_changes in by_product.items():
            state = stored.get(product_id) or _State()
            for change in product_changes:
                if change.version <= state.version:
                    continue
                if change.product is not None:
                    live = None if change.product.archived else change.product
                    state = _State(change.version, live, changed=True)
                elif change.archived:
                    state = _State(change.version, None, changed=True)
                elif state.product is not None and state.version == change.version - 1:
                    patched = state.product.model_copy(
                        update={"price": change.price, "version": change.version}
                    )
                    state = _State(change.version, patched, changed=True)
                elif product_id not in refetch:
                    refetch.append(product_id)
            states[product_id] = state
        if refetch:
            for product in (await self._from_catalog(refetch)).values():
                if product.version > states[product.id].version:
                    live = None if product.archived else product
                    states[product.id] = _State(product.version, live, changed=True)
        failed: dict[str, str] = {}
        written = await self._write_states(states, failed)
        return written, {c.key: failed[c.product_id] for c in changes if c.product_id in failed}

    async def _write_states(
        self, states: Mapping[str, _State], failed: dict[str, str]
    ) -> WriteResult:
        result = WriteResult()
        tombstones = [
            _Doc(i, s.version, tombstone(i, s.version))
            for i, s in states.items()
            if s.changed and s.product is None
        ]
        if tombstones:
            result.add(await self._write(tombstones, None, failed=failed))
        active = [s.product for s in states.values() if s.changed and s.product is not None]
        if active:
            result.add(await self.upsert(active, failed=failed))
        return result

    async def _current(self, product_ids: Sequence[str]) -> dict[str, _State]:
        """The live index's documents of these products (one realtime mget)."""
        if not product_ids:
            return {}
        docs = await self._mget([{"_index": self.names.alias, "_id": i} for i in product_ids])
        states: dict[str, _State] = {}
        for product_id, doc in zip(product_ids, docs, strict=True):
            if not doc.get("found"):
                continue
            version, source = int(doc["_version"]), doc["_source"]
            live = None if is_tombstone(source) else product_from_document(source, version=version)
            states[product_id] = _State(version, live)
        return states

    async def _from_catalog(self, product_ids: Sequence[str]) -> dict[str, ProductView]:
        if self.catalog is None:
            raise IndexingError("no catalog client configured to fetch products from")
        found = await self.catalog.products(product_ids)
        if len(found) < len(product_ids):
            log.warning(
                "catalog does not know %d of %d products",
                len(product_ids) - len(found),
                len(product_ids),
            )
        return found

    async def apply_price(self, product_id: str, version: int, price: Money) -> WriteResult:
        """One price change (see :meth:`apply`); a refused write raises."""
        result, failed = await self.apply([Change("price", product_id, version, price=price)])
        if failed:
            raise IndexingError(failed["price"])
        if not result.written and not result.conflicts:
            result.conflicts = 1  # at or below the indexed version: already applied
        return result

    async def refetch(self, product_ids: Iterable[str]) -> WriteResult:
        """Index the catalog's current state of these products (whatever version it is)."""
        found = await self._from_catalog(list(dict.fromkeys(product_ids)))
        return await self.upsert(list(found.values()))

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
        failed: dict[str, str] | None = None,
    ) -> WriteResult:
        """Bulk-write ``docs`` to every target with external versions.

        A 409 is a newer (or, for ``external``, the same) version already stored. A target
        alias that disappeared (a rebuild just finished) is skipped. Any other refusal
        raises, or, with ``failed`` given, is recorded there per document id.
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
        failures: dict[str, str] = {}
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
                error = outcome.get("error") or {}
                failures[str(outcome.get("_id"))] = (
                    f"{status} {error.get('type')}: {error.get('reason')}"
                )
        if vanished:
            self.forget_targets()
            if self.names.alias in vanished:
                raise IndexNotReadyError(f"alias {self.names.alias} does not exist")
            log.info("write targets %s vanished (rebuild finished); skipped", sorted(vanished))
        if failures and failed is None:
            example = next(iter(failures.items()))
            raise IndexingError(f"{len(failures)} document(s) refused, e.g. {example}")
        if failures and failed is not None:
            failed.update(failures)
        return result
