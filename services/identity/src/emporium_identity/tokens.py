"""Access tokens (signed JWTs) and refresh-token families (opaque, hashed, rotated).

A *session* is one refresh-token family: a login starts one, each refresh replaces the
presented token with a new one in the same family. Only SHA-256 hashes of refresh tokens are
stored. Presenting a token that was already replaced means two parties hold the family (a
stolen token, or a replay): the whole family is revoked and both are signed out. A family
also ends on logout, on "log out everywhere" and password reset (the user's
``sessions_valid_after`` moves past its start), and at its absolute ``expires_at``.

Access tokens carry the claims the kit's ``TokenVerifier`` reads (``sub``, ``roles``,
``seller_id``, ``scope``) plus ``iss``/``aud`` from the shared settings, ``iat``/``nbf``/
``exp``, a ``jti`` and ``sid`` (the session). Roles are read from the user document when a
token is minted, so a role change shows in the next refreshed token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from emporium_kit.errors import Unauthenticated
from pymongo.errors import DuplicateKeyError
from ulid import ULID

from emporium_identity.domain import hash_token, new_secret, scopes_for
from emporium_identity.errors import invalid_refresh_token
from emporium_identity.models import UserRead
from emporium_identity.store import Doc, Store


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Who is calling: for per-address limits and the session record."""

    address: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Rotation:
    session: Doc
    user_id: str
    refresh_token: str


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def access_claims(
    user: UserRead,
    *,
    session_id: str,
    issuer: str,
    audience: str,
    now: datetime,
    ttl_s: int,
) -> dict[str, Any]:
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": user.id,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_s,
        "jti": uuid.uuid4().hex,
        "sid": session_id,
        "roles": list(user.roles),
        "scope": " ".join(scopes_for(user.roles)),
        "email_verified": user.email_verified,
    }
    if user.seller_id is not None and "seller" in user.roles:
        claims["seller_id"] = user.seller_id
    return claims


async def start_session(
    store: Store,
    *,
    user_id: str,
    method: str,
    client: ClientInfo,
    now: datetime,
    refresh_ttl_s: int,
    max_age_s: int,
) -> tuple[str, str]:
    """A new family with its first refresh token: ``(session_id, refresh_token)``."""
    session_id = str(ULID())
    expires_at = now + timedelta(seconds=max_age_s)
    await store.sessions.insert_one(
        {
            "_id": session_id,
            "user_id": user_id,
            "method": method,
            "created_at": now,
            "expires_at": expires_at,
            "last_used_at": now,
            "revoked_at": None,
            "revoked_reason": None,
            "client": {"address": client.address, "user_agent": (client.user_agent or "")[:200]},
        }
    )
    token = await _issue_refresh_token(
        store,
        session_id=session_id,
        user_id=user_id,
        now=now,
        expires_at=min(now + timedelta(seconds=refresh_ttl_s), expires_at),
    )
    return session_id, token


async def _issue_refresh_token(
    store: Store, *, session_id: str, user_id: str, now: datetime, expires_at: datetime
) -> str:
    token = new_secret()
    await store.refresh_tokens.insert_one(
        {
            "_id": hash_token(token),
            "session_id": session_id,
            "user_id": user_id,
            "issued_at": now,
            "expires_at": expires_at,
            "replaced_at": None,
        }
    )
    return token


async def lookup(store: Store, refresh_token: str) -> Doc | None:
    """The stored record of a refresh token (by hash), whatever its state."""
    if not refresh_token or len(refresh_token) > 512:
        return None
    return await store.refresh_tokens.find_one({"_id": hash_token(refresh_token)})


def _session_usable(session: Doc | None, *, now: datetime) -> bool:
    return (
        session is not None
        and session.get("revoked_at") is None
        and _aware(session["expires_at"]) > now
    )


async def rotate(store: Store, *, record: Doc, now: datetime, refresh_ttl_s: int) -> Rotation:
    """Replace the presented token (``record``, from :func:`lookup`) with a new one.

    Raises ``INVALID_REFRESH_TOKEN`` for expired/revoked tokens and ``REFRESH_TOKEN_REUSED``
    (after revoking the family) when the token had already been replaced.
    """
    session = await store.sessions.find_one({"_id": record["session_id"]})
    if session is None or not _session_usable(session, now=now):
        raise invalid_refresh_token()
    if record.get("replaced_at") is not None:
        await revoke_session(store, session_id=session["_id"], reason="reuse", now=now)
        raise _reused()
    if _aware(record["expires_at"]) <= now:
        raise invalid_refresh_token()
    # The claim is an insert keyed by the presented token's hash: of any number of
    # concurrent uses exactly one inserts, on FerretDB (whose conditional updates are not
    # atomic under concurrency) as on MongoDB; every other use is a reuse like a later replay.
    try:
        await store.refresh_rotations.insert_one(
            {
                "_id": record["_id"],
                "session_id": session["_id"],
                "rotated_at": now,
                "expires_at": record["expires_at"],
            }
        )
    except DuplicateKeyError:
        await revoke_session(store, session_id=session["_id"], reason="reuse", now=now)
        raise _reused() from None
    await store.refresh_tokens.update_one({"_id": record["_id"]}, {"$set": {"replaced_at": now}})
    token = await _issue_refresh_token(
        store,
        session_id=session["_id"],
        user_id=session["user_id"],
        now=now,
        expires_at=min(now + timedelta(seconds=refresh_ttl_s), _aware(session["expires_at"])),
    )
    await store.sessions.update_one({"_id": session["_id"]}, {"$set": {"last_used_at": now}})
    return Rotation(session=session, user_id=session["user_id"], refresh_token=token)


def _reused() -> Unauthenticated:
    return Unauthenticated(
        "REFRESH_TOKEN_REUSED", "This sign-in was used elsewhere; all its tokens are revoked"
    )


async def revoke_session(store: Store, *, session_id: str, reason: str, now: datetime) -> bool:
    matched = await store.sessions.update_one(
        {"_id": session_id, "revoked_at": None},
        {"$set": {"revoked_at": now, "revoked_reason": reason}},
    )
    return bool(matched)


async def revoke_user_sessions(store: Store, *, user_id: str, reason: str, now: datetime) -> int:
    return await store.sessions.update_many(
        {"user_id": user_id, "revoked_at": None},
        {"$set": {"revoked_at": now, "revoked_reason": reason}},
    )


def session_outlived(session: Doc, user: Doc) -> bool:
    """Whether the user ended every session after this one started."""
    cutoff = user.get("sessions_valid_after")
    return cutoff is not None and _aware(session["created_at"]) < _aware(cutoff)


async def purge_expired(store: Store, *, now: datetime) -> int:
    """Delete expired refresh tokens and sessions (FerretDB has no TTL indexes)."""
    tokens = await store.refresh_tokens.delete_many({"expires_at": {"$lte": now}})
    rotations = await store.refresh_rotations.delete_many({"expires_at": {"$lte": now}})
    sessions = await store.sessions.delete_many({"expires_at": {"$lte": now}})
    return tokens + rotations + sessions
