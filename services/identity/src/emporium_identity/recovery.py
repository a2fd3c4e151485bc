"""Password reset and email verification: single-use tokens sent by mail.

Only the token's hash is stored, on the user, and every step is one guarded write of the
user, so a token is consumed exactly once even when it is presented twice at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from emporium_kit.documents import ChangeResult, Doc
from emporium_kit.errors import ValidationFailed

from emporium_identity import events, tokens
from emporium_identity.accounts import policy_error
from emporium_identity.core import Identity
from emporium_identity.domain import account_key, hash_token, new_secret
from emporium_identity.keys import utcnow
from emporium_identity.models import UserRead
from emporium_identity.ratelimit import Action
from emporium_identity.store import IdentityDb
from emporium_identity.tokens import ClientInfo
from emporium_identity.users import change_user


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _holds(doc: Doc, field: str, token_hash: str, now: datetime) -> bool:
    """Whether the user's pending ``field`` token is ``token_hash`` and still valid."""
    pending = doc.get(field) or {}
    return pending.get("token_hash") == token_hash and _aware(pending["expires_at"]) > now


async def request_password_reset(*, identity: Identity, email: str, client: ClientInfo) -> None:
    """Issue a reset token if the account exists; the caller learns nothing either way."""
    await identity.limits.hit(
        Action.PASSWORD_RESET, account=account_key(email), address=client.address
    )
    user = await identity.db.users.find_one({"email": email}, {"_id": 1, "email": 1})
    if user is None:
        return
    token = new_secret()
    expires_at = utcnow() + timedelta(seconds=identity.settings.identity_password_reset_ttl_s)
    event = events.password_reset_requested(
        events.PasswordResetRequestedData(
            user_id=user["_id"], email=user["email"], token=token, expires_at=expires_at
        )
    )
    # a new request replaces the previous token: only the latest link works
    reset = {"password_reset": {"token_hash": hash_token(token), "expires_at": expires_at}}
    await change_user(db=identity.db, user_id=user["_id"], change=lambda _: (reset, [event]))


def _invalid_reset_token() -> ValidationFailed:
    return ValidationFailed(
        "INVALID_RESET_TOKEN", "This reset link is invalid or has expired", ["token"]
    )


async def reset_password(
    *, identity: Identity, token: str, new_password: str, client: ClientInfo
) -> None:
    """Set a new password with a single-use reset token; ends every session."""
    token_hash = hash_token(token)
    await identity.limits.hit(
        Action.PASSWORD_RESET, account=token_hash[:32], address=client.address
    )
    now = utcnow()
    user = await identity.db.users.find_one(
        {"password_reset.token_hash": token_hash, "password_reset.expires_at": {"$gt": now}},
        {"_id": 1, "email": 1},
    )
    if user is None:
        raise _invalid_reset_token()
    problems = identity.policy.problems(new_password, email=user["email"])
    if problems:
        raise policy_error(problems, ["newPassword"])
    password_hash = await identity.passwords.hash(new_password)

    def consume(doc: Doc) -> ChangeResult:
        # checked again under the lease: of two concurrent resets only one finds the token;
        # the mail proved the address, so it counts as verified too
        if not _holds(doc, "password_reset", token_hash, now):
            raise _invalid_reset_token()
        return {
            "$set": {
                "password_hash": password_hash,
                "email_verified": True,
                "sessions_valid_after": now,
            },
            "$unset": {"password_reset": ""},
        }, []

    await change_user(db=identity.db, user_id=user["_id"], change=consume)
    await tokens.revoke_user_sessions(
        db=identity.db, user_id=user["_id"], reason="password-reset", now=now
    )
    await identity.lockout.succeeded(account_key(user["email"]))


async def request_email_verification(
    *, identity: Identity, user_id: str, client: ClientInfo
) -> bool:
    """Issue a verification token; ``False`` when the email is verified already."""
    await identity.limits.hit(Action.VERIFY_EMAIL, account=user_id, address=client.address)
    expires_at = utcnow() + timedelta(seconds=identity.settings.identity_email_verification_ttl_s)
    token = new_secret()
    issued = False

    def issue(doc: Doc) -> ChangeResult:
        nonlocal issued
        if doc.get("email_verified"):
            return None
        issued = True
        event = events.email_verification_requested(
            events.EmailVerificationRequestedData(
                user_id=user_id, email=doc["email"], token=token, expires_at=expires_at
            )
        )
        pending = {"token_hash": hash_token(token), "email": doc["email"], "expires_at": expires_at}
        return {"email_verification": pending}, [event]

    await change_user(db=identity.db, user_id=user_id, change=issue)
    return issued


async def verify_email(*, db: IdentityDb, token: str) -> UserRead:
    """Mark the email verified with a single-use token from the verification mail."""
    now = utcnow()
    token_hash = hash_token(token)
    user = await db.users.find_one(
        {
            "email_verification.token_hash": token_hash,
            "email_verification.expires_at": {"$gt": now},
        },
        {"_id": 1},
    )

    def consume(doc: Doc) -> ChangeResult:
        if not _holds(doc, "email_verification", token_hash, now):
            raise _invalid_verification_token()
        return {"$set": {"email_verified": True}, "$unset": {"email_verification": ""}}, []

    if user is None:
        raise _invalid_verification_token()
    return await change_user(db=db, user_id=user["_id"], change=consume)


def _invalid_verification_token() -> ValidationFailed:
    return ValidationFailed(
        "INVALID_VERIFICATION_TOKEN",
        "This verification link is invalid or has expired",
        ["token"],
    )
