"""A collection whose every call runs behind the Mongo dependency's breaker and timeout."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

Doc = dict[str, Any]
# ``Dependency.guard`` of the Mongo client (breaker + timeout), or ``unguarded``
Guard = Callable[[], AbstractAsyncContextManager[object]]


@asynccontextmanager
async def unguarded() -> AsyncIterator[None]:
    """For command-line tools, which run one command and have no breaker to feed."""
    yield


class Collection:
    """A guarded view of one collection: reads, inserts and deletes.

    ``Collection(raw, guard)`` with ``raw`` pymongo's collection (kept as ``.raw`` for the
    outbox relay and index creation) and ``guard`` the Mongo dependency's ``guard``. Every
    method is one command inside ``guard()``, so it feeds the breaker ``/readyz`` reports and
    a hung server fails the call in the dependency's timeout instead of holding it.

    There is deliberately no general update here: FerretDB 1.24 applies an update as an
    unguarded read-modify-write, so a document that concurrent requests may change is
    changed only through :meth:`emporium_kit.documents.Documents.update`.
    :meth:`update_owned` is for the other kind, a document with one writer by construction.
    """

    def __init__(self, raw: AsyncCollection[Doc], guard: Guard | None = None) -> None:
        self.raw = raw
        self.guard: Guard = guard or unguarded

    @property
    def name(self) -> str:
        return self.raw.name

    async def get(self, doc_id: Any, projection: Mapping[str, Any] | None = None) -> Doc | None:
        """The document with ``_id`` ``doc_id``: a lone ``_id`` filter, the one query
        FerretDB 1.24 answers from an index instead of decoding the whole collection."""
        return await self.find_one({"_id": doc_id}, projection)

    async def find_one(
        self, flt: Mapping[str, Any], projection: Mapping[str, Any] | None = None
    ) -> Doc | None:
        async with self.guard():
            return await self.raw.find_one(flt, projection)

    async def find(
        self,
        flt: Mapping[str, Any],
        projection: Mapping[str, Any] | None = None,
        *,
        sort: Sequence[tuple[str, int]] | None = None,
        limit: int = 0,
    ) -> list[Doc]:
        async with self.guard():
            cursor = self.raw.find(flt, projection)
            if sort:
                cursor = cursor.sort(list(sort))
            if limit:
                cursor = cursor.limit(limit)
            return await cursor.to_list()

    async def count(self, flt: Mapping[str, Any], *, limit: int = 0) -> int:
        async with self.guard():
            if limit:
                return await self.raw.count_documents(flt, limit=limit)
            return await self.raw.count_documents(flt)

    async def exists(self, flt: Mapping[str, Any]) -> bool:
        return await self.count(flt, limit=1) > 0

    async def insert_one(self, doc: Mapping[str, Any]) -> None:
        """Raises ``DuplicateKeyError`` when a unique value (``_id`` first) is taken: an
        insert is the one write FerretDB 1.24 applies atomically."""
        async with self.guard():
            await self.raw.insert_one(dict(doc))

    async def delete_one(self, flt: Mapping[str, Any]) -> int:
        async with self.guard():
            result = await self.raw.delete_one(flt)
        return result.deleted_count

    async def delete_many(self, flt: Mapping[str, Any]) -> int:
        async with self.guard():
            result = await self.raw.delete_many(flt)
        return result.deleted_count

    async def update_owned(self, doc_id: Any, update: Mapping[str, Any]) -> bool:
        """Apply ``update`` to a document that only the caller writes: one it made its own
        with an insert-claim (a refresh token after its rotation claim, a lease document).
        Returns whether the document exists. Never for documents that concurrent requests
        change; those go through ``Documents.update``."""
        async with self.guard():
            result = await self.raw.update_one({"_id": doc_id}, update)
        return result.matched_count > 0
