"""Signing keys: stored in Mongo, private halves encrypted, rotated without logging anyone out.

Each key is one document of ``signing_keys``::

    {_id: kid, alg, public_jwk, private_jwk: <Fernet token>, created_at, active_from,
     retired_at, expires_at}

- A key is *published* (in the JWKS) from creation until ``expires_at``; a retired key keeps
  that until the last token it signed has expired (``retired_at`` + access-token TTL +
  leeway), so a rotation never invalidates a token in flight.
- A key *signs* from ``active_from`` until ``retired_at``; the newest such key wins.
  :meth:`KeyRing.rotate` publishes the new key ``activation_delay_s`` before it signs, because
  verifiers refetch a JWKS at most every ``jwks_refetch_min_interval_s``: by the time a token
  names the new ``kid``, every verifier may fetch it.
- Private JWKs are encrypted with ``MultiFernet`` (settings: comma-separated keys, the first
  encrypts, all decrypt), so a database dump alone cannot mint tokens and the encryption
  key itself can be rotated.

Every replica caches the key set and re-reads it every ``cache_s``; ``emporium-identity
rotate-keys`` (or another replica) may change it at any time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from emporium_kit.documents import Doc
from joserfc import jwt
from joserfc.jwk import ECKey, Key, KeySet, RSAKey

from emporium_identity.store import IdentityDb

log = logging.getLogger(__name__)

_GENERATORS: dict[str, Callable[[], Key]] = {
    "ES256": lambda: ECKey.generate_key("P-256", {"alg": "ES256", "use": "sig"}, auto_kid=True),
    "RS256": lambda: RSAKey.generate_key(2048, {"alg": "RS256", "use": "sig"}, auto_kid=True),
}
_IMPORTERS: dict[str, Callable[[dict[str, Any]], Key]] = {
    "ES256": ECKey.import_key,
    "RS256": RSAKey.import_key,
}


def utcnow() -> datetime:
    """UTC now at millisecond precision (what BSON stores)."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    alg: str
    public_jwk: dict[str, Any]
    private: Key | None  # None when it cannot be decrypted with the configured keys
    created_at: datetime
    active_from: datetime
    retired_at: datetime | None
    expires_at: datetime | None

    def published(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now

    def signs(self, now: datetime) -> bool:
        return (
            self.private is not None
            and self.active_from <= now
            and (self.retired_at is None or self.retired_at > now)
        )


class NoSigningKeyError(RuntimeError):
    """No key may sign right now (the ring was never initialised, or every key is retired)."""


class KeyRing:
    """The service's signing keys; see the module doc.

    ``KeyRing(db, *, alg, encryption_keys, activation_delay_s, retention_s, cache_s)``.
    """

    def __init__(
        self,
        db: IdentityDb,
        *,
        alg: str,
        encryption_keys: list[bytes],
        activation_delay_s: float,
        retention_s: float,
        cache_s: float = 15.0,
    ) -> None:
        if alg not in _GENERATORS:
            raise ValueError(f"unsupported signing algorithm {alg}")
        if not encryption_keys:
            raise ValueError("at least one key-encryption key is required")
        self._db = db
        self.alg = alg
        self._fernet = MultiFernet([Fernet(k) for k in encryption_keys])
        self.activation_delay_s = activation_delay_s
        self.retention_s = retention_s
        self.cache_s = cache_s
        self._keys: list[SigningKey] = []
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def keys(self) -> list[SigningKey]:
        return list(self._keys)

    # ----------------------------------------------------------------------------- loading

    async def load(self) -> None:
        """Read every published key from the store (decrypting the private halves)."""
        now = utcnow()
        docs = await self._db.signing_keys.find(
            {"$or": [{"expires_at": None}, {"expires_at": {"$gt": now}}]}
        )
        self._keys = sorted(
            (self._from_doc(doc) for doc in docs), key=lambda k: (k.active_from, k.created_at)
        )
        self._loaded_at = time.monotonic()

    async def refresh_if_stale(self, max_age_s: float | None = None) -> None:
        age = self.cache_s if max_age_s is None else max_age_s
        if self._loaded_at is not None and time.monotonic() - self._loaded_at < age:
            return
        loaded_before = self._loaded_at
        async with self._lock:
            if self._loaded_at != loaded_before:
                return  # another task reloaded while this one waited
            await self.load()

    def _from_doc(self, doc: Doc) -> SigningKey:
        private: Key | None = None
        try:
            raw = self._fernet.decrypt(doc["private_jwk"].encode())
            private = _IMPORTERS[doc["alg"]](orjson.loads(raw))
        except (InvalidToken, KeyError, ValueError):
            log.error(
                "cannot decrypt signing key; it is published but cannot sign",
                extra={"kid": doc["_id"]},
            )
        return SigningKey(
            kid=doc["_id"],
            alg=doc["alg"],
            public_jwk=doc["public_jwk"],
            private=private,
            created_at=_aware(doc["created_at"]) or utcnow(),
            active_from=_aware(doc["active_from"]) or utcnow(),
            retired_at=_aware(doc.get("retired_at")),
            expires_at=_aware(doc.get("expires_at")),
        )

    # ---------------------------------------------------------------------------- changes

    async def ensure_signing_key(self) -> None:
        """At start-up: create a key that signs at once when none can sign now."""
        await self.load()
        now = utcnow()
        if not any(key.signs(now) for key in self._keys):
            await self.rotate(immediate=True)

    async def rotate(self, *, immediate: bool = False) -> SigningKey:
        """Add a new key and retire the current ones when it takes over.

        ``immediate`` skips the publication delay (first key; a leaked key must stop signing
        now, accepting that verifiers which fetched the JWKS moments ago reject new tokens
        until their refetch interval passes).
        """
        now = utcnow()
        active_from = now if immediate else now + timedelta(seconds=self.activation_delay_s)
        key = _GENERATORS[self.alg]()
        kid = str(key.kid)
        public = dict(key.as_dict(private=False))
        private = self._fernet.encrypt(orjson.dumps(dict(key.as_dict(private=True)))).decode()
        await self._db.signing_keys.insert(
            {
                "_id": kid,
                "alg": self.alg,
                "public_jwk": public,
                "private_jwk": private,
                "created_at": now,
                "active_from": active_from,
                "retired_at": None,
                "expires_at": None,
            }
        )
        # keys still signing, or due to stop only after the new key takes over; one guarded
        # write each, so a concurrent rotation's retirement is not undone
        signing = {"$or": [{"retired_at": None}, {"retired_at": {"$gt": active_from}}]}
        retirement = {
            "retired_at": active_from,
            "expires_at": active_from + timedelta(seconds=self.retention_s),
        }

        def retire(key: Doc) -> Any:
            retired = _aware(key.get("retired_at"))
            return None if retired is not None and retired <= active_from else (retirement, [])

        for old in await self._db.signing_keys.find({"_id": {"$ne": kid}, **signing}, {"_id": 1}):
            await self._db.signing_keys.update(old["_id"], retire)
        await self.load()
        log.info("signing key rotated", extra={"kid": kid, "active_from": active_from.isoformat()})
        return next(k for k in self._keys if k.kid == kid)

    async def prune(self) -> int:
        """Delete keys whose last token has expired (they are no longer published)."""
        return await self._db.signing_keys.delete_many({"expires_at": {"$lte": utcnow()}})

    # ---------------------------------------------------------------------------- use

    def signing_key(self, now: datetime | None = None) -> SigningKey:
        moment = now or utcnow()
        for key in reversed(self._keys):
            if key.signs(moment):
                return key
        raise NoSigningKeyError("no signing key is active")

    def jwks(self, now: datetime | None = None) -> dict[str, Any]:
        """The public JWKS: every published key (including ones not signing yet)."""
        moment = now or utcnow()
        return {"keys": [dict(k.public_jwk) for k in self._keys if k.published(moment)]}

    async def sign(self, claims: Mapping[str, Any], *, now: datetime | None = None) -> str:
        """A compact JWS of ``claims`` with the current key (``kid`` and ``typ`` in the
        header)."""
        await self.refresh_if_stale()
        key = self.signing_key(now)
        if key.private is None:  # signs() checked it; a narrowing for the type checker
            raise NoSigningKeyError(key.kid)
        header = {"alg": key.alg, "kid": key.kid, "typ": "JWT"}
        return jwt.encode(header, dict(claims), key.private, algorithms=[key.alg])

    def key_set(self) -> KeySet:
        return KeySet.import_key_set({"keys": self.jwks()["keys"]})


class LocalJwksTransport(httpx.AsyncBaseTransport):
    """Serves the ring's JWKS to the kit's ``TokenVerifier`` in-process.

    Identity verifies its own tokens with the same verifier every service uses; instead of
    fetching its own ``/.well-known/jwks.json`` over the network, the verifier's HTTP client
    gets this transport. An unknown ``kid`` makes the verifier refetch; the ring then rereads
    Mongo (at most once a second) so a key another replica just added is found.
    """

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._ring.refresh_if_stale(max_age_s=1.0)
        if not self._ring.keys:
            # the verifier prefetches before the app's start-up hooks ran: on an empty
            # database the first key is made here rather than published as an empty set
            await self._ring.ensure_signing_key()
        return httpx.Response(
            200,
            content=orjson.dumps(self._ring.jwks()),
            headers={"content-type": "application/json"},
            request=request,
        )
