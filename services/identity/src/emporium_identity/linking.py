"""Sign-in with an OpenID Connect provider: an existing link, the account with the same
verified email (linked now), or a new account."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from emporium_kit.errors import Forbidden, Unauthenticated
from pymongo.errors import DuplicateKeyError

from emporium_identity import tokens
from emporium_identity.core import AuthResult, Identity
from emporium_identity.domain import RuleViolation, normalize_email
from emporium_identity.keys import utcnow
from emporium_identity.models import USER_PROJECTION
from emporium_identity.sessions import issue_tokens
from emporium_identity.tokens import ClientInfo
from emporium_identity.users import create_user, update_user


@dataclass(frozen=True, slots=True)
class ExternalIdentity:
    """What a provider's verified ID token says about the person."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None


def _link_id(provider: str, subject: str) -> str:
    return f"{provider}|{subject}"


async def login_with_provider(
    *, identity: Identity, external: ExternalIdentity, client: ClientInfo
) -> AuthResult:
    """Sign in with a provider identity: an existing link, else the account with the same
    VERIFIED email (linked now), else a new account.

    Linking to an account whose own email was never verified removes its password and ends
    its sessions: whoever registered that address without proving it (an attacker
    pre-registering a victim's email) must not keep a way in.
    """
    db = identity.db
    method = f"oidc:{external.provider}"
    link = await db.oauth_links.get(_link_id(external.provider, external.subject))
    if link is not None:
        user = await db.users.get(link["user_id"], USER_PROJECTION)
        if user is not None:
            return await issue_tokens(identity=identity, user=user, method=method, client=client)
    if not external.email or not external.email_verified:
        raise Forbidden(
            "OAUTH_EMAIL_NOT_VERIFIED",
            "The provider did not confirm your email address; sign in another way",
        )
    try:
        email = normalize_email(external.email)
    except RuleViolation as exc:
        raise Forbidden("OAUTH_EMAIL_INVALID", "The provider's email is not usable") from exc
    user = await db.users.find_one({"email": email}, USER_PROJECTION)
    if user is None:
        try:
            user = await create_user(
                db=db,
                email=email,
                password_hash=None,
                email_verified=True,
                display_name=external.name[:100] if external.name else None,
                method="oidc",
                provider=external.provider,
            )
        except DuplicateKeyError:  # registered concurrently: link to that account
            user = await db.users.find_one({"email": email}, USER_PROJECTION)
            if user is None:
                raise Unauthenticated("OAUTH_LOGIN_FAILED", "Sign-in failed; try again") from None
    elif not user.get("email_verified"):
        now = utcnow()
        proven = {"email_verified": True, "password_hash": None, "sessions_valid_after": now}
        user = await update_user(db=db, user_id=user["_id"], change=lambda _: (proven, []))
        await tokens.revoke_user_sessions(db=db, user_id=user["_id"], reason="oauth-link", now=now)
    # a concurrent callback may have linked the same identity already
    with contextlib.suppress(DuplicateKeyError):
        await db.oauth_links.insert_one(
            {
                "_id": _link_id(external.provider, external.subject),
                "provider": external.provider,
                "subject": external.subject,
                "user_id": user["_id"],
                "email": email,
                "linked_at": utcnow(),
            }
        )
    return await issue_tokens(identity=identity, user=user, method=method, client=client)
