"""The identity database: its collections, each call behind the Mongo breaker and timeout.

``Store.users.find_one(...)`` is pymongo's ``find_one`` run inside the Mongo dependency's
``guard()``, so every query feeds the breaker that ``/readyz`` reports, and a hung FerretDB
fails the request in ``mongo_timeout_s`` instead of holding it. Only the operations the
service uses are exposed; each one is a single-document write or a plain read (FerretDB has
no transactions, ``$lookup`` or TTL indexes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

Doc = dict[str, Any]
Db = AsyncDatabase[Doc]

USERS = "users"
SESSIONS = "sessions"
REFRESH_TOKENS = "refresh_tokens"
# one document per replaced refresh token, ``_id`` = that token's hash: the rotation claim
REFRESH_ROTATIONS = "refresh_rotations"
OAUTH_LINKS = "oauth_links"
SIGNING_KEYS = "signing_keys"

# ``Dependency.guard`` of the Mongo client (breaker + timeout)
Guard = Callable[[], AbstractAsyncContextManager[object]]


@asynccontextmanager
async def unguarded() -> AsyncIterator[None]:
    """For command-line tools, which run one command and have no breaker to feed."""
    yield


class Collection:
    """A guarded view of one collection (``.raw`` is pymongo's, for the outbox relay)."""

    def __init__(self, raw: AsyncCollection[Doc], guard: Guard) -> None:
        self.raw = raw
        self._guard = guard

    @property
    def name(self) -> str:
        return self.raw.name

    async def find_one(
        self, flt: Mapping[str, Any], projection: Mapping[str, Any] | None = None
    ) -> Doc | None:
        async with self._guard():
            return await self.raw.find_one(flt, projection)

    async def find(
        self,
        flt: Mapping[str, Any],
        projection: Mapping[str, Any] | None = None,
        *,
        sort: Sequence[tuple[str, int]] | None = None,
        limit: int = 0,
    ) -> list[Doc]:
        async with self._guard():
            cursor = self.raw.find(flt, projection)
            if sort:
                cursor = cursor.sort(list(sort))
            if limit:
                cursor = cursor.limit(limit)
            return await cursor.to_list()

    async def count(self, flt: Mapping[str, Any]) -> int:
        async with self._guard():
            return await self.raw.count_documents(flt)

    async def insert_one(self, doc: Mapping[str, Any]) -> None:
        async with self._guard():
            await self.raw.insert_one(dict(doc))

    async def update_one(self, flt: Mapping[str, Any], update: Mapping[str, Any]) -> int:
        """Returns the number of documents matched (0 or 1)."""
        async with self._guard():
            result = await self.raw.update_one(flt, update)
        return result.matched_count

    async def update_many(self, flt: Mapping[str, Any], update: Mapping[str, Any]) -> int:
        async with self._guard():
            result = await self.raw.update_many(flt, update)
        return result.modified_count

    async def find_one_and_update(
        self,
        flt: Mapping[str, Any],
        update: Mapping[str, Any],
        exclude: Mapping[str, Any] | None = None,
        *,
        after: bool = True,
    ) -> Doc | None:
        """``exclude`` is an exclusion projection (``{"outbox": 0}``), applied here:
        FerretDB 1.24's findAndModify does not implement projections."""
        async with self._guard():
            doc = await self.raw.find_one_and_update(
                flt,
                update,
                return_document=ReturnDocument.AFTER if after else ReturnDocument.BEFORE,
            )
        if doc is not None and exclude:
            for name in exclude:
                doc.pop(name, None)
        return doc

    async def delete_many(self, flt: Mapping[str, Any]) -> int:
        async with self._guard():
            result = await self.raw.delete_many(flt)
        return result.deleted_count


class Store:
    """Every collection of the identity database, guarded by ``guard``."""

    def __init__(self, db: Db, guard: Guard | None = None) -> None:
        self.db = db
        self.guard: Guard = guard or unguarded
        self.users = Collection(db[USERS], self.guard)
        self.sessions = Collection(db[SESSIONS], self.guard)
        self.refresh_tokens = Collection(db[REFRESH_TOKENS], self.guard)
        self.refresh_rotations = Collection(db[REFRESH_ROTATIONS], self.guard)
        self.oauth_links = Collection(db[OAUTH_LINKS], self.guard)
        self.signing_keys = Collection(db[SIGNING_KEYS], self.guard)

    async def ensure_indexes(self) -> None:
        """Idempotent: the same names and keys on every start."""
        async with self.guard():
            await self.db[USERS].create_index("email", name="email_unique", unique=True)
            await self.db[USERS].create_index(
                "password_reset.token_hash", name="password_reset_token"
            )
            await self.db[USERS].create_index(
                "email_verification.token_hash", name="email_verification_token"
            )
            await self.db[USERS].create_index("roles", name="roles")
            await self.db[SESSIONS].create_index("user_id", name="user")
            await self.db[SESSIONS].create_index("expires_at", name="expires")
            await self.db[REFRESH_TOKENS].create_index("session_id", name="session")
            await self.db[REFRESH_TOKENS].create_index("expires_at", name="expires")
            await self.db[REFRESH_ROTATIONS].create_index("expires_at", name="expires")
            await self.db[OAUTH_LINKS].create_index("user_id", name="user")
