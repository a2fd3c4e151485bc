"""Accounts: self-service registration, and the bootstrap upsert behind the CLI and seed."""

from __future__ import annotations

from collections.abc import Sequence

from emporium_kit.auth import Principal
from emporium_kit.errors import Conflict, ErrorDetail, ValidationFailed
from pymongo.errors import DuplicateKeyError

from emporium_identity.core import AuthResult, Identity
from emporium_identity.domain import BASE_ROLE, Role, RuleViolation, account_key, normalize_email
from emporium_identity.models import RegisterInput, UserRead
from emporium_identity.ratelimit import Action
from emporium_identity.roles import change_roles
from emporium_identity.sessions import issue_tokens
from emporium_identity.tokens import ClientInfo
from emporium_identity.users import change_user, create_user


def policy_error(problems: list[RuleViolation], at: list[str | int]) -> ValidationFailed:
    details = [ErrorDetail(p.code, p.message, at) for p in problems]
    return ValidationFailed(problems[0].code, problems[0].message, at, details=details)


async def register(*, identity: Identity, data: RegisterInput, client: ClientInfo) -> AuthResult:
    await identity.limits.hit(
        Action.REGISTER, account=account_key(data.email), address=client.address
    )
    problems = identity.policy.problems(data.password, email=data.email)
    if problems:
        raise policy_error(problems, ["input", "password"])
    # hashed before the uniqueness check, so a taken email answers no faster than a new one
    password_hash = await identity.passwords.hash(data.password)
    try:
        doc = await create_user(
            db=identity.db,
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
    return await issue_tokens(identity=identity, user=doc, method="password", client=client)


async def upsert_account(
    *,
    identity: Identity,
    email: str,
    password: str,
    roles: Sequence[Role],
    seller_id: str | None = None,
    display_name: str | None = None,
    check_policy: bool = True,
) -> tuple[UserRead, bool]:
    """Create an account with ``roles`` (verified email), or add ``roles`` and set the
    password of the existing one. Returns ``(user, created)``. For the CLI and the seed."""
    db = identity.db
    normalized = normalize_email(email)
    if check_policy:
        problems = identity.policy.problems(password, email=normalized)
        if problems:
            raise policy_error(problems, ["password"])
    password_hash = await identity.passwords.hash(password)
    existing = await db.users.find_one({"email": normalized}, {"_id": 1})
    if existing is None:
        try:
            doc = await create_user(
                db=db,
                email=normalized,
                password_hash=password_hash,
                email_verified=True,
                display_name=display_name,
                roles=[r.value for r in roles],
                seller_id=seller_id,
            )
            return UserRead.from_doc(doc), True
        except DuplicateKeyError:
            existing = await db.users.find_one({"email": normalized}, {"_id": 1})
            if existing is None:
                raise
    bootstrap = Principal(subject="bootstrap", roles=frozenset({Role.ADMIN.value}))
    for role in roles:
        if role is not BASE_ROLE:
            await change_roles(
                db=db,
                actor=bootstrap,
                user_id=existing["_id"],
                grant=role,
                seller_id=seller_id if role is Role.SELLER else None,
            )
    user = await change_user(
        db=db,
        user_id=existing["_id"],
        change=lambda _: ({"password_hash": password_hash, "email_verified": True}, []),
    )
    return user, False
