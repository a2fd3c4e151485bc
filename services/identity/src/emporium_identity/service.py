"""Identity use cases: plain async functions, keyword-only, the service's stores first.

Every change to an account is ONE single-document update of the user (FerretDB has no
transactions), carrying its outbox events, guarded by a compare-and-set on ``version`` where
a read-modify-write is involved. Validation, rate limits and authorisation come before any
write, so a rejected call writes nothing.

Sessions and refresh tokens live in their own collections (:mod:`emporium_identity.tokens`);
a crash between writing a user and starting its session leaves an account without a
session, which the next login repairs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from emporium_kit.auth import Principal
from emporium_kit.clients import RedisStore
from emporium_kit.errors import (
    Conflict,
    ErrorDetail,
    Forbidden,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)
from emporium_kit.events.envelope import Event
from emporium_kit.events.outbox import with_events, with_outbox
from pymongo.errors import DuplicateKeyError
from ulid import ULID

from emporium_identity import addressbook, events, tokens
from emporium_identity.addressbook import AddressBook, AddressKind
from emporium_identity.domain import (
    BASE_ROLE,
    PasswordPolicy,
    Role,
    RuleViolation,
    account_key,
    hash_token,
    new_secret,
    normalize_email,
    sorted_roles,
)
from emporium_identity.errors import invalid_credentials, invalid_refresh_token
from emporium_identity.keys import KeyRing, utcnow
from emporium_identity.models import (
    USER_PROJECTION,
    AddressInput,
    AddressPatch,
    ProfileUpdate,
    RegisterInput,
    UserRead,
)
from emporium_identity.passwords import Passwords
from emporium_identity.ratelimit import Action, Lockout, RateLimits, limits_from_settings
from emporium_identity.settings import IdentitySettings
from emporium_identity.store import Doc, Store
from emporium_identity.tokens import ClientInfo

_CAS_ATTEMPTS = 5
MAX_PAGE = 100


def _nothing(_user_id: str) -> None:
    return None


@dataclass(frozen=True)
class Identity:
    """The service's long-lived parts, shared by every request of one process."""

    settings: IdentitySettings
    store: Store
    keys: KeyRing
    passwords: Passwords
    policy: PasswordPolicy
    limits: RateLimits
    lockout: Lockout
    # tells the outbox relay which user document holds new events: published in milliseconds
    events_written: Callable[[str], None] = field(default=_nothing)

    @classmethod
    def from_settings(
        cls,
        settings: IdentitySettings,
        *,
        store: Store,
        redis: RedisStore,
        events_written: Callable[[str], None] = _nothing,
    ) -> Identity:
        """Every part built from the settings (the app and the CLI both use it)."""
        namespace = settings.identity_redis_namespace
        return cls(
            settings=settings,
            store=store,
            keys=KeyRing(
                store,
                alg=settings.identity_signing_alg,
                encryption_keys=settings.encryption_keys,
                activation_delay_s=settings.identity_key_activation_delay_s,
                retention_s=settings.key_retention_s,
                cache_s=settings.identity_key_cache_s,
            ),
            passwords=Passwords(
                time_cost=settings.identity_argon2_time_cost,
                memory_kib=settings.identity_argon2_memory_kib,
                parallelism=settings.identity_argon2_parallelism,
                concurrency=settings.identity_hash_concurrency,
            ),
            policy=PasswordPolicy(
                min_length=settings.identity_password_min_length,
                max_length=settings.identity_password_max_length,
            ),
            limits=RateLimits(
                redis,
                namespace=namespace,
                limits=limits_from_settings(settings),
                url=settings.redis_url,
            ),
            lockout=Lockout(
                redis,
                namespace=namespace,
                threshold=settings.identity_lockout_threshold,
                base_s=settings.identity_lockout_base_s,
                max_s=settings.identity_lockout_max_s,
                memory_s=settings.identity_lockout_memory_s,
            ),
            events_written=events_written,
        )


@dataclass(frozen=True, slots=True)
class AuthResult:
    access_token: str
    refresh_token: str
    expires_in: int
    user: UserRead
    token_type: str = "Bearer"


# ------------------------------------------------------------------------------ reads


async def get_user(*, store: Store, user_id: str) -> UserRead | None:
    doc = await store.users.find_one({"_id": user_id}, USER_PROJECTION)
    return UserRead.from_doc(doc) if doc else None


async def get_users(*, store: Store, ids: Sequence[str]) -> dict[str, UserRead]:
    """Batched lookup (DataLoader): one query for many ids."""
    docs = await store.users.find({"_id": {"$in": list(dict.fromkeys(ids))}}, USER_PROJECTION)
    return {doc["_id"]: UserRead.from_doc(doc) for doc in docs}


@dataclass(frozen=True, slots=True)
class UserPage:
    users: list[UserRead]
    has_next: bool


def encode_cursor(user_id: str) -> str:
    return base64.urlsafe_b64encode(user_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.urlsafe_b64decode(padded.encode()).decode()
        ULID.from_str(value)
    except ValueError:
        raise ValidationFailed("INVALID_CURSOR", "not a valid cursor", ["after"]) from None
    return value


async def list_users(*, store: Store, first: int, after: str | None, role: Role | None) -> UserPage:
    """Users in id (= creation) order; keyset pagination on ``_id``."""
    if not 1 <= first <= MAX_PAGE:
        raise ValidationFailed("INVALID_PAGE_SIZE", f"first must be 1..{MAX_PAGE}", ["first"])
    flt: dict[str, Any] = {}
    if after is not None:
        flt["_id"] = {"$gt": decode_cursor(after)}
    if role is not None:
        flt["roles"] = role.value
    docs = await store.users.find(flt, USER_PROJECTION, sort=[("_id", 1)], limit=first + 1)
    return UserPage([UserRead.from_doc(d) for d in docs[:first]], has_next=len(docs) > first)


async def count_users(*, store: Store, role: Role | None) -> int:
    return await store.users.count({"roles": role.value} if role else {})


# ------------------------------------------------------------------ registration & login


def _policy_error(problems: list[RuleViolation], at: list[str | int]) -> ValidationFailed:
    details = [ErrorDetail(p.code, p.message, at) for p in problems]
    return ValidationFailed(problems[0].code, problems[0].message, at, details=details)


def _new_user(
    *,
    email: str,
    email_verified: bool,
    password_hash: str | None,
    display_name: str | None,
    roles: Sequence[str],
    seller_id: str | None,
    now: datetime,
) -> Doc:
    return {
        "_id": str(ULID()),
        "email": email,
        "email_verified": email_verified,
        "password_hash": password_hash,
        "display_name": display_name,
        "phone": None,
        "locale": None,
        "roles": sorted_roles(roles),
        "seller_id": seller_id,
        "addresses": [],
        "default_shipping_address_id": None,
        "default_billing_address_id": None,
        "sessions_valid_after": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


async def create_user(
    identity: Identity,
    *,
    email: str,
    password_hash: str | None,
    email_verified: bool,
    display_name: str | None = None,
    roles: Sequence[str] = (BASE_ROLE,),
    seller_id: str | None = None,
    method: events.RegistrationMethod = "password",
    provider: str | None = None,
) -> Doc:
    """Insert an account with its ``UserRegistered`` event; ``DuplicateKeyError`` when the
    email is taken."""
    now = utcnow()
    doc = _new_user(
        email=email,
        email_verified=email_verified,
        password_hash=password_hash,
        display_name=display_name,
        roles=[BASE_ROLE, *roles],
        seller_id=seller_id,
        now=now,
    )
    event = events.user_registered(
        events.UserRegisteredData(
            user_id=doc["_id"],
            email=email,
            email_verified=email_verified,
            display_name=display_name,
            roles=doc["roles"],
            method=method,
            provider=provider,
            registered_at=now,
        )
    )
    await identity.store.users.insert_one(with_outbox(doc, [event]))
    identity.events_written(doc["_id"])
    return doc


async def register(identity: Identity, *, data: RegisterInput, client: ClientInfo) -> AuthResult:
    await identity.limits.hit(
        Action.REGISTER, account=account_key(data.email), address=client.address
    )
    problems = identity.policy.problems(data.password, email=data.email)
    if problems:
        raise _policy_error(problems, ["input", "password"])
    # hashed before the uniqueness check, so a taken email answers no faster than a new one
    password_hash = await identity.passwords.hash(data.password)
    try:
        doc = await create_user(
            identity,
            email=data.email,
            password_hash=password_hash,
            email_verified=False,
            display_name=data.display_name,
        )
    except DuplicateKeyError:
        raise Conflict(
            "REGISTRATION_REJECTED",
            "Could not register with these details; if you have an account, sign in or "
            "reset your password",
        ) from None
    return await issue_tokens(identity, user=doc, method="password", client=client)


async def login(identity: Identity, *, email: str, password: str, client: ClientInfo) -> AuthResult:
    """Email + password sign-in; every failure is the same ``INVALID_CREDENTIALS``."""
    try:
        normalized = normalize_email(email)
    except RuleViolation:
        normalized = email.strip().lower()
    account = account_key(normalized)
    await identity.limits.hit(Action.LOGIN, account=account, address=client.address)
    await identity.lockout.check(account)
    user = await identity.store.users.find_one({"email": normalized}, USER_PROJECTION)
    stored_hash = user.get("password_hash") if user else None
    result = await identity.passwords.verify(stored_hash, password)
    if not result.ok or user is None:
        await identity.lockout.failed(account)
        raise invalid_credentials()
    await identity.lockout.succeeded(account)
    if result.needs_rehash:
        # compare-and-set on the old hash: a concurrent password change wins
        await identity.store.users.update_one(
            {"_id": user["_id"], "password_hash": stored_hash},
            {"$set": {"password_hash": await identity.passwords.hash(password)}},
        )
    return await issue_tokens(identity, user=user, method="password", client=client)


async def issue_tokens(
    identity: Identity, *, user: Doc, method: str, client: ClientInfo
) -> AuthResult:
    """Start a session for ``user`` and mint its first token pair."""
    settings = identity.settings
    now = utcnow()
    session_id, refresh_token = await tokens.start_session(
        identity.store,
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


async def refresh(identity: Identity, *, refresh_token: str, client: ClientInfo) -> AuthResult:
    """Rotate a refresh token; the new access token reflects the user's current roles."""
    await identity.limits.hit(Action.REFRESH, account=None, address=client.address)
    record = await tokens.lookup(identity.store, refresh_token)
    if record is None:
        raise invalid_refresh_token()
    await identity.limits.hit(Action.REFRESH, account=record["user_id"], address=None)
    now = utcnow()
    rotation = await tokens.rotate(
        identity.store,
        record=record,
        now=now,
        refresh_ttl_s=identity.settings.identity_refresh_token_ttl_s,
    )
    user = await identity.store.users.find_one({"_id": rotation.user_id}, USER_PROJECTION)
    if user is None or tokens.session_outlived(rotation.session, user):
        await tokens.revoke_session(
            identity.store, session_id=rotation.session["_id"], reason="ended", now=now
        )
        raise invalid_refresh_token()
    return await _token_pair(identity, user, rotation.session["_id"], rotation.refresh_token, now)


async def logout(identity: Identity, *, refresh_token: str) -> bool:
    """End the session (family) of ``refresh_token``; unknown tokens end nothing."""
    record = await tokens.lookup(identity.store, refresh_token)
    if record is None:
        return False
    return await tokens.revoke_session(
        identity.store, session_id=record["session_id"], reason="logout", now=utcnow()
    )


async def logout_everywhere(identity: Identity, *, user_id: str) -> int:
    """End every session of the user: the cut-off on the user document is authoritative
    (one write); marking the sessions is bookkeeping."""
    now = utcnow()
    await identity.store.users.update_one(
        {"_id": user_id}, {"$set": {"sessions_valid_after": now, "updated_at": now}}
    )
    return await tokens.revoke_user_sessions(
        identity.store, user_id=user_id, reason="logout-everywhere", now=now
    )


# ------------------------------------------------------- password reset, email verification


async def request_password_reset(identity: Identity, *, email: str, client: ClientInfo) -> None:
    """Issue a reset token if the account exists; the caller learns nothing either way."""
    await identity.limits.hit(
        Action.PASSWORD_RESET, account=account_key(email), address=client.address
    )
    user = await identity.store.users.find_one({"email": email}, {"_id": 1, "email": 1})
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
    await identity.store.users.update_one(
        {"_id": user["_id"]},
        with_events(
            {
                "$set": {
                    "password_reset": {"token_hash": hash_token(token), "expires_at": expires_at}
                }
            },
            [event],
        ),
    )
    identity.events_written(user["_id"])


def _invalid_reset_token() -> ValidationFailed:
    return ValidationFailed(
        "INVALID_RESET_TOKEN", "This reset link is invalid or has expired", ["token"]
    )


async def reset_password(
    identity: Identity, *, token: str, new_password: str, client: ClientInfo
) -> None:
    """Set a new password with a single-use reset token; ends every session."""
    token_hash = hash_token(token)
    await identity.limits.hit(
        Action.PASSWORD_RESET, account=token_hash[:32], address=client.address
    )
    now = utcnow()
    user = await identity.store.users.find_one(
        {"password_reset.token_hash": token_hash, "password_reset.expires_at": {"$gt": now}},
        {"_id": 1, "email": 1},
    )
    if user is None:
        raise _invalid_reset_token()
    problems = identity.policy.problems(new_password, email=user["email"])
    if problems:
        raise _policy_error(problems, ["newPassword"])
    password_hash = await identity.passwords.hash(new_password)
    # the token hash in the filter makes it single-use even under concurrent resets; the
    # mail proved the address, so it counts as verified too
    matched = await identity.store.users.update_one(
        {"_id": user["_id"], "password_reset.token_hash": token_hash},
        {
            "$set": {
                "password_hash": password_hash,
                "email_verified": True,
                "sessions_valid_after": now,
                "updated_at": now,
            },
            "$unset": {"password_reset": ""},
            "$inc": {"version": 1},
        },
    )
    if not matched:
        raise _invalid_reset_token()
    await tokens.revoke_user_sessions(
        identity.store, user_id=user["_id"], reason="password-reset", now=now
    )
    await identity.lockout.succeeded(account_key(user["email"]))


async def request_email_verification(
    identity: Identity, *, user_id: str, client: ClientInfo
) -> bool:
    """Issue a verification token; ``False`` when the email is verified already."""
    await identity.limits.hit(Action.VERIFY_EMAIL, account=user_id, address=client.address)
    user = await identity.store.users.find_one(
        {"_id": user_id}, {"_id": 1, "email": 1, "email_verified": 1}
    )
    if user is None:
        raise NotFound("USER_NOT_FOUND", "No such user")
    if user.get("email_verified"):
        return False
    token = new_secret()
    expires_at = utcnow() + timedelta(seconds=identity.settings.identity_email_verification_ttl_s)
    event = events.email_verification_requested(
        events.EmailVerificationRequestedData(
            user_id=user_id, email=user["email"], token=token, expires_at=expires_at
        )
    )
    await identity.store.users.update_one(
        {"_id": user_id},
        with_events(
            {
                "$set": {
                    "email_verification": {
                        "token_hash": hash_token(token),
                        "email": user["email"],
                        "expires_at": expires_at,
                    }
                }
            },
            [event],
        ),
    )
    identity.events_written(user_id)
    return True


async def verify_email(identity: Identity, *, token: str) -> UserRead:
    """Mark the email verified with a single-use token from the verification mail."""
    now = utcnow()
    token_hash = hash_token(token)
    doc = await identity.store.users.find_one_and_update(
        {
            "email_verification.token_hash": token_hash,
            "email_verification.expires_at": {"$gt": now},
        },
        {
            "$set": {"email_verified": True, "updated_at": now},
            "$unset": {"email_verification": ""},
            "$inc": {"version": 1},
        },
        USER_PROJECTION,
    )
    if doc is None:
        raise ValidationFailed(
            "INVALID_VERIFICATION_TOKEN",
            "This verification link is invalid or has expired",
            ["token"],
        )
    return UserRead.from_doc(doc)


# -------------------------------------------------------------------- profile & addresses


async def _update_user(
    store: Store,
    user_id: str,
    change: Callable[[Doc], tuple[dict[str, Any], list[Event[Any]]]],
) -> UserRead:
    """Read-modify-write of one user with compare-and-set on ``version``.

    ``change(user) -> ($set fields, events)`` may raise to reject the change (nothing is
    written); it is re-run on the fresh document when a concurrent writer won.
    """
    for _ in range(_CAS_ATTEMPTS):
        doc = await store.users.find_one({"_id": user_id}, USER_PROJECTION)
        if doc is None:
            raise NotFound("USER_NOT_FOUND", "No such user")
        fields, pending = change(doc)
        now = utcnow()
        update = with_events(
            {"$set": {**fields, "updated_at": now}, "$inc": {"version": 1}}, pending
        )
        updated = await store.users.find_one_and_update(
            {"_id": user_id, "version": doc["version"]}, update, USER_PROJECTION
        )
        if updated is not None:
            return UserRead.from_doc(updated)
        await asyncio.sleep(0)
    raise Conflict("CONCURRENT_UPDATE", "The account changed meanwhile; try again")


async def update_profile(identity: Identity, *, user_id: str, data: ProfileUpdate) -> UserRead:
    fields = data.model_dump(include=data.model_fields_set)
    return await _update_user(identity.store, user_id, lambda _doc: (fields, []))


async def add_address(identity: Identity, *, user_id: str, data: AddressInput) -> UserRead:
    address_id = str(ULID())
    limit = identity.settings.identity_max_addresses

    def change(doc: Doc) -> tuple[dict[str, Any], list[Event[Any]]]:
        book = addressbook.add_address(
            AddressBook.of(doc), data, address_id=address_id, now=utcnow(), limit=limit
        )
        return book.fields(), []

    return await _update_user(identity.store, user_id, change)


async def update_address(
    identity: Identity, *, user_id: str, address_id: str, patch: AddressPatch
) -> UserRead:
    def change(doc: Doc) -> tuple[dict[str, Any], list[Event[Any]]]:
        book = addressbook.update_address(AddressBook.of(doc), address_id, patch, now=utcnow())
        return book.fields(), []

    return await _update_user(identity.store, user_id, change)


async def delete_address(identity: Identity, *, user_id: str, address_id: str) -> UserRead:
    def change(doc: Doc) -> tuple[dict[str, Any], list[Event[Any]]]:
        return addressbook.delete_address(AddressBook.of(doc), address_id).fields(), []

    return await _update_user(identity.store, user_id, change)


async def set_default_address(
    identity: Identity, *, user_id: str, address_id: str, kind: AddressKind
) -> UserRead:
    def change(doc: Doc) -> tuple[dict[str, Any], list[Event[Any]]]:
        book = addressbook.set_default_address(AddressBook.of(doc), address_id, kind)
        return book.fields(), []

    return await _update_user(identity.store, user_id, change)


# ------------------------------------------------------------------------------ roles


async def change_roles(
    identity: Identity,
    *,
    actor: Principal,
    user_id: str,
    grant: Role | None = None,
    revoke: Role | None = None,
    seller_id: str | None = None,
) -> UserRead:
    """Grant or revoke one role (admins only); emits ``UserRolesChanged`` with the change.

    The seller role needs the catalog seller id it acts for. The base role (customer) is
    never revoked, and an admin cannot revoke their own admin role (no self-lockout).
    Tokens already issued keep their roles until they expire; the next refresh carries the
    new ones.
    """
    if not actor.is_admin:
        raise Forbidden("MISSING_ROLE", "Requires one of the roles: admin")
    if grant is Role.SELLER and not seller_id:
        raise ValidationFailed("SELLER_ID_REQUIRED", "A seller needs a seller id", ["sellerId"])
    if grant is not None and grant is not Role.SELLER and seller_id:
        raise ValidationFailed(
            "SELLER_ID_NOT_ALLOWED", "Only the seller role takes a seller id", ["sellerId"]
        )
    if revoke is BASE_ROLE:
        raise ValidationFailed("ROLE_NOT_REVOCABLE", "Every account is a customer", ["role"])
    if revoke is Role.ADMIN and actor.subject == user_id:
        raise Forbidden("CANNOT_REVOKE_OWN_ADMIN", "Ask another admin to revoke your admin role")

    def change(doc: Doc) -> tuple[dict[str, Any], list[Event[Any]]]:
        before = set(doc.get("roles") or [])
        after = set(before)
        current_seller = doc.get("seller_id")
        new_seller = current_seller
        if grant is not None:
            after.add(grant.value)
            if grant is Role.SELLER:
                new_seller = seller_id
        if revoke is not None:
            after.discard(revoke.value)
            if revoke is Role.SELLER:
                new_seller = None
        roles = sorted_roles(after)
        if set(roles) == before and new_seller == current_seller:
            return {}, []  # nothing changes: no event (the version still moves)
        event = events.user_roles_changed(
            events.UserRolesChangedData(
                user_id=doc["_id"],
                roles=roles,
                seller_id=new_seller,
                granted=sorted_roles(after - before),
                revoked=sorted_roles(before - after),
                changed_by=actor.subject,
                version=int(doc["version"]) + 1,
                changed_at=utcnow(),
            )
        )
        return {"roles": roles, "seller_id": new_seller}, [event]

    user = await _update_user(identity.store, user_id, change)
    identity.events_written(user_id)
    return user


# ------------------------------------------------------------------------------ OIDC


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
    identity: Identity, *, external: ExternalIdentity, client: ClientInfo
) -> AuthResult:
    """Sign in with a provider identity: an existing link, else the account with the same
    VERIFIED email (linked now), else a new account.

    Linking to an account whose own email was never verified removes its password and ends
    its sessions: whoever registered that address without proving it (an attacker
    pre-registering a victim's email) must not keep a way in.
    """
    store = identity.store
    link = await store.oauth_links.find_one({"_id": _link_id(external.provider, external.subject)})
    if link is not None:
        user = await store.users.find_one({"_id": link["user_id"]}, USER_PROJECTION)
        if user is not None:
            return await issue_tokens(
                identity, user=user, method=f"oidc:{external.provider}", client=client
            )
    if not external.email or not external.email_verified:
        raise Forbidden(
            "OAUTH_EMAIL_NOT_VERIFIED",
            "The provider did not confirm your email address; sign in another way",
        )
    try:
        email = normalize_email(external.email)
    except RuleViolation as exc:
        raise Forbidden("OAUTH_EMAIL_INVALID", "The provider's email is not usable") from exc
    user = await store.users.find_one({"email": email}, USER_PROJECTION)
    if user is None:
        try:
            user = await create_user(
                identity,
                email=email,
                password_hash=None,
                email_verified=True,
                display_name=external.name[:100] if external.name else None,
                method="oidc",
                provider=external.provider,
            )
        except DuplicateKeyError:  # registered concurrently: link to that account
            user = await store.users.find_one({"email": email}, USER_PROJECTION)
            if user is None:
                raise Unauthenticated("OAUTH_LOGIN_FAILED", "Sign-in failed; try again") from None
    elif not user.get("email_verified"):
        now = utcnow()
        user = await store.users.find_one_and_update(
            {"_id": user["_id"]},
            {
                "$set": {
                    "email_verified": True,
                    "password_hash": None,
                    "sessions_valid_after": now,
                    "updated_at": now,
                },
                "$inc": {"version": 1},
            },
            USER_PROJECTION,
        )
        if user is None:
            raise Unauthenticated("OAUTH_LOGIN_FAILED", "Sign-in failed; try again")
        await tokens.revoke_user_sessions(store, user_id=user["_id"], reason="oauth-link", now=now)
    # a concurrent callback may have linked the same identity already
    with contextlib.suppress(DuplicateKeyError):
        await store.oauth_links.insert_one(
            {
                "_id": _link_id(external.provider, external.subject),
                "provider": external.provider,
                "subject": external.subject,
                "user_id": user["_id"],
                "email": email,
                "linked_at": utcnow(),
            }
        )
    return await issue_tokens(
        identity, user=user, method=f"oidc:{external.provider}", client=client
    )


# ------------------------------------------------------------------------- bootstrap


async def upsert_account(
    identity: Identity,
    *,
    email: str,
    password: str,
    roles: Sequence[Role],
    seller_id: str | None = None,
    display_name: str | None = None,
    check_policy: bool = True,
) -> tuple[UserRead, bool]:
    """Create an account with ``roles`` (verified email), or add ``roles`` and set the
    password of the existing one. Returns ``(user, created)``. For the CLI and the seed."""
    normalized = normalize_email(email)
    if check_policy:
        problems = identity.policy.problems(password, email=normalized)
        if problems:
            raise _policy_error(problems, ["password"])
    password_hash = await identity.passwords.hash(password)
    existing = await identity.store.users.find_one({"email": normalized}, {"_id": 1})
    if existing is None:
        try:
            doc = await create_user(
                identity,
                email=normalized,
                password_hash=password_hash,
                email_verified=True,
                display_name=display_name,
                roles=[r.value for r in roles],
                seller_id=seller_id,
            )
            return UserRead.from_doc(doc), True
        except DuplicateKeyError:
            existing = await identity.store.users.find_one({"email": normalized}, {"_id": 1})
            if existing is None:
                raise
    bootstrap = Principal(subject="bootstrap", roles=frozenset({Role.ADMIN.value}))
    for role in roles:
        if role is not BASE_ROLE:
            await change_roles(
                identity,
                actor=bootstrap,
                user_id=existing["_id"],
                grant=role,
                seller_id=seller_id if role is Role.SELLER else None,
            )
    await identity.store.users.update_one(
        {"_id": existing["_id"]},
        {"$set": {"password_hash": password_hash, "email_verified": True}},
    )
    user = await get_user(store=identity.store, user_id=existing["_id"])
    if user is None:
        raise NotFound("USER_NOT_FOUND", "No such user")
    return user, False


async def housekeeping(identity: Identity) -> int:
    """Delete what has expired: refresh tokens, sessions, retired signing keys."""
    now = utcnow()
    removed = await tokens.purge_expired(identity.store, now=now)
    return removed + await identity.keys.prune()
