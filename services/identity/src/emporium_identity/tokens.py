"""Access tokens (signed JWTs) and refresh-token families (opaque, hashed, rotated).

A *session* is one refresh-token family: a login starts one, each refresh replaces the
presented token with a new one in the same family. Only SHA-256 hashes of refresh tokens are
stored. Presenting a token that was already replaced means two parties hold the family (a
stolen token, or a replay): the whole family is revoked and both are signed out. A family
also ends on logout, on "log out everywhere" and password reset (the user's
``sessions_valid_after`` moves past its start), and at its absolute ``expires_at``.

Sessions are changed only through the kit's guarded write path (``db.sessions.update``):
a refresh's ``last_used_at`` and a logout's revocation of the same session are applied one
after the other, so a revocation is never undone. A refresh token is inserted, and its
``replaced_at`` written once by the caller whose rotation claim succeeded.

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

from emporium_kit.documents import ChangeResult, Doc
from emporium_kit.errors import NotFound, Unauthenticated
from pymongo.errors import DuplicateKeyError
from ulid import ULID

from emporium_identity.domain import hash_token, new_secret, scopes_for
from emporium_identity.errors import invalid_refresh_token
from emporium_identity.models import UserRead
from emporium_identity.store import IdentityDb


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
    *,
    db: IdentityDb,
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
    await db.sessions.insert(
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
        db,
        session_id=session_id,
        user_id=user_id,
        now=now,
        expires_at=min(now + timedelta(seconds=refresh_ttl_s), expires_at),
    )
    return session_id, token


async def _issue_refresh_token(
    db: IdentityDb, *, session_id: str, user_id: str, now: datetime, expires_at: datetime
) -> str:
    token = new_secret()
    await db.refresh_tokens.insert_one(
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


async def lookup(*, db: IdentityDb, refresh_token: str) -> Doc | None:
    """The stored record of a refresh token (by hash), whatever its state."""
    if not refresh_token or len(refresh_token) > 512:
        return None
    return await db.refresh_tokens.get(hash_token(refresh_token))


def _session_usable(session: Doc | None, *, now: datetime) -> bool:
    return (
        session is not None
        and session.get("revoked_at") is None
        and _aware(session["expires_at"]) > now
    )


async def rotate(*, db: IdentityDb, record: Doc, now: datetime, refresh_ttl_s: int) -> Rotation:
    """Replace the presented token (``record``, from :func:`lookup`) with a new one.

    Raises ``INVALID_REFRESH_TOKEN`` for expired/revoked tokens and ``REFRESH_TOKEN_REUSED``
    (after revoking the family) when the token had already been replaced.
    """
    session = await db.sessions.get(record["session_id"])
    if session is None or not _session_usable(session, now=now):
        raise invalid_refresh_token()
    if record.get("replaced_at") is not None:
        await revoke_session(db=db, session_id=session["_id"], reason="reuse", now=now)
        raise _reused()
    if _aware(record["expires_at"]) <= now:
        raise invalid_refresh_token()
    # The claim is an insert keyed by the presented token's hash: of any number of
    # concurrent uses exactly one inserts, on FerretDB (whose conditional updates are not
    # atomic under concurrency) as on MongoDB; every other use is a reuse like a later replay.
    try:
        await db.refresh_rotations.insert_one(
            {
                "_id": record["_id"],
                "session_id": session["_id"],
                "rotated_at": now,
                "expires_at": record["expires_at"],
            }
        )
    except DuplicateKeyError:
        await revoke_session(db=db, session_id=session["_id"], reason="reuse", now=now)
        raise _reused() from None
    # the rotation claim made this record ours: nobody else writes it now
    await db.refresh_tokens.update_owned(record["_id"], {"$set": {"replaced_at": now}})
    token = await _issue_refresh_token(
        db,
        session_id=session["_id"],
        user_id=session["user_id"],
        now=now,
        expires_at=min(now + timedelta(seconds=refresh_ttl_s), _aware(session["expires_at"])),
    )
    try:
        await db.sessions.update(session["_id"], lambda _: ({"last_used_at": now}, []))
    except NotFound:
        raise invalid_refresh_token() from None  # purged meanwhile: the session is over
    return Rotation(session=session, user_id=session["user_id"], refresh_token=token)


def _reused() -> Unauthenticated:
    return Unauthenticated(
        "REFRESH_TOKEN_REUSED", "This sign-in was used elsewhere; all its tokens are revoked"
    )


async def revoke_session(*, db: IdentityDb, session_id: str, reason: str, now: datetime) -> bool:
    """End one session; ``False`` when it had ended already or does not exist."""
    revoked = False

    def revoke(session: Doc) -> ChangeResult:
        nonlocal revoked
        if session.get("revoked_at") is not None:
            return None
        revoked = True
        return {"revoked_at": now, "revoked_reason": reason}, []

    try:
        await db.sessions.update(session_id, revoke)
    except NotFound:
        return False
    return revoked


async def revoke_user_sessions(*, db: IdentityDb, user_id: str, reason: str, now: datetime) -> int:
    """Mark every open session of the user ended, one guarded write each. The user's
    ``sessions_valid_after`` is what ends them; this is bookkeeping for the session list."""
    open_sessions = await db.sessions.find({"user_id": user_id, "revoked_at": None}, {"_id": 1})
    ended = 0
    for session in open_sessions:
        ended += await revoke_session(db=db, session_id=session["_id"], reason=reason, now=now)
    return ended


def session_outlived(session: Doc, user: Doc) -> bool:
    """Whether the user ended every session after this one started."""
    cutoff = user.get("sessions_valid_after")
    return cutoff is not None and _aware(session["created_at"]) < _aware(cutoff)


async def purge_expired(*, db: IdentityDb, now: datetime) -> int:
    """Delete expired refresh tokens and sessions (FerretDB has no TTL indexes)."""
    tokens = await db.refresh_tokens.delete_many({"expires_at": {"$lte": now}})
    rotations = await db.refresh_rotations.delete_many({"expires_at": {"$lte": now}})
    sessions = await db.sessions.delete_many({"expires_at": {"$lte": now}})
    return tokens + rotations + sessions
