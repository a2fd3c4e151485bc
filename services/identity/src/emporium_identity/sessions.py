"""Signing in and out: password login, token pairs, refresh, logout, logout everywhere.

Sessions and refresh tokens live in their own collections (:mod:`emporium_identity.tokens`);
a crash between writing a user and starting its session leaves an account without a
session, which the next login repairs.
"""

from __future__ import annotations

from datetime import datetime

from emporium_kit.documents import ChangeResult, Doc

from emporium_identity import tokens
from emporium_identity.core import AuthResult, Identity
from emporium_identity.domain import RuleViolation, account_key, normalize_email
from emporium_identity.errors import invalid_credentials, invalid_refresh_token
from emporium_identity.keys import utcnow
from emporium_identity.models import USER_PROJECTION, UserRead
from emporium_identity.ratelimit import Action
from emporium_identity.store import IdentityDb
from emporium_identity.tokens import ClientInfo
from emporium_identity.users import change_user


async def login(*, identity: Identity, email: str, password: str, client: ClientInfo) -> AuthResult:
    """Email + password sign-in; every failure is the same ``INVALID_CREDENTIALS``."""
    try:
        normalized = normalize_email(email)
    except RuleViolation:
        normalized = email.strip().lower()
    account = account_key(normalized)
    await identity.limits.hit(Action.LOGIN, account=account, address=client.address)
    await identity.lockout.check(account)
    user = await identity.db.users.find_one({"email": normalized}, USER_PROJECTION)
    stored_hash = user.get("password_hash") if user else None
    result = await identity.passwords.verify(stored_hash, password)
    if not result.ok or user is None:
        await identity.lockout.failed(account)
        raise invalid_credentials()
    await identity.lockout.succeeded(account)
    if result.needs_rehash:
        rehashed = await identity.passwords.hash(password)

        def rehash(doc: Doc) -> ChangeResult:
            # a password changed meanwhile wins over the rehash of the old one
            if doc.get("password_hash") != stored_hash:
                return None
            return {"password_hash": rehashed}, []

        await change_user(db=identity.db, user_id=user["_id"], change=rehash)
    return await issue_tokens(identity=identity, user=user, method="password", client=client)


async def issue_tokens(
    *, identity: Identity, user: Doc, method: str, client: ClientInfo
) -> AuthResult:
    """Start a session for ``user`` and mint its first token pair."""
    settings = identity.settings
    now = utcnow()
    session_id, refresh_token = await tokens.start_session(
        db=identity.db,
        user_id=user["_id"],
        method=method,
        client=client,
        now=now,
        refresh_ttl_s=settings.identity_refresh_token_ttl_s,
        max_age_s=settings.identity_session_max_age_s,
    )
    return await _token_pair(identity, user, session_id, refresh_token, now)


async def _token_pair(
    identity: Identity, user: Doc, session_id: str, refresh_token: str, now: datetime
) -> AuthResult:
    settings = identity.settings
    read = UserRead.from_doc(user)
    claims = tokens.access_claims(
        read,
        session_id=session_id,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        now=now,
        ttl_s=settings.identity_access_token_ttl_s,
    )
    access = await identity.keys.sign(claims, now=now)
    return AuthResult(access, refresh_token, settings.identity_access_token_ttl_s, read)


async def refresh(*, identity: Identity, refresh_token: str, client: ClientInfo) -> AuthResult:
    """Rotate a refresh token; the new access token reflects the user's current roles."""
    db = identity.db
    await identity.limits.hit(Action.REFRESH, account=None, address=client.address)
    record = await tokens.lookup(db=db, refresh_token=refresh_token)
    if record is None:
        raise invalid_refresh_token()
    await identity.limits.hit(Action.REFRESH, account=record["user_id"], address=None)
    now = utcnow()
    rotation = await tokens.rotate(
        db=db,
        record=record,
        now=now,
        refresh_ttl_s=identity.settings.identity_refresh_token_ttl_s,
    )
    user = await db.users.get(rotation.user_id, USER_PROJECTION)
    if user is None or tokens.session_outlived(rotation.session, user):
        await tokens.revoke_session(
            db=db, session_id=rotation.session["_id"], reason="ended", now=now
        )
        raise invalid_refresh_token()
    return await _token_pair(identity, user, rotation.session["_id"], rotation.refresh_token, now)


async def logout(*, db: IdentityDb, refresh_token: str) -> bool:
    """End the session (family) of ``refresh_token``; unknown tokens end nothing."""
    record = await tokens.lookup(db=db, refresh_token=refresh_token)
    if record is None:
        return False
    return await tokens.revoke_session(
        db=db, session_id=record["session_id"], reason="logout", now=utcnow()
    )


async def logout_everywhere(*, db: IdentityDb, user_id: str) -> int:
    """End every session of the user: the cut-off on the user document is authoritative
    (one write); marking the sessions is bookkeeping."""
    now = utcnow()
    await change_user(db=db, user_id=user_id, change=lambda _: ({"sessions_valid_after": now}, []))
    return await tokens.revoke_user_sessions(
        db=db, user_id=user_id, reason="logout-everywhere", now=now
    )


async def housekeeping(*, identity: Identity) -> int:
    """Delete what has expired: refresh tokens, sessions, retired signing keys."""
    removed = await tokens.purge_expired(db=identity.db, now=utcnow())
    return removed + await identity.keys.prune()
