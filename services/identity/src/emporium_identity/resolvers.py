"""GraphQL resolvers: validate input, check who is asking, call the service, shape the result.

Errors are GraphQL errors with ``extensions: {code, kind, field}`` (the kit's format);
``field`` is the camelCase GraphQL path of the offending input (``["input", "postalCode"]``)
and a VALIDATION_FAILED error lists every problem under ``extensions.errors``. A rate-limited
call also has ``extensions.retryAfter`` and the response a ``Retry-After`` header.

Who sees an account: the account itself and admins, whichever way it is reached (``me``,
``user``, ``users``, ``_entities``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from ariadne import EnumType, MutationType, ObjectType, QueryType, ScalarType
from ariadne.contrib.federation import FederatedObjectType
from emporium_kit.auth import Principal, require_principal, require_roles
from emporium_kit.context import RequestContext, request_of
from emporium_kit.cursors import Cursors
from emporium_kit.errors import Forbidden, ValidationFailed, parse_input
from emporium_kit.loaders import Loader, keyed_loader
from graphql import GraphQLResolveInfo
from pydantic import BaseModel, ValidationError

from emporium_identity import accounts, profile, recovery, roles, sessions, users
from emporium_identity.addressbook import AddressKind
from emporium_identity.core import AuthResult, Identity
from emporium_identity.domain import Role
from emporium_identity.errors import TooManyRequests
from emporium_identity.http import client_info, hints_of
from emporium_identity.models import (
    AddressInput,
    AddressPatch,
    Email,
    Id,
    LoginInput,
    ProfileUpdate,
    RegisterInput,
    UserRead,
)
from emporium_identity.tokens import ClientInfo

P = ParamSpec("P")
R = TypeVar("R")

ADMIN = Role.ADMIN.value


@dataclass(frozen=True, slots=True)
class IdentityContext(RequestContext):
    """What a resolver reads (``IdentityContext.of(info)``): the service and this request's
    user loader, so every ``load(id)`` of one tick becomes one query."""

    identity: Identity
    users: Loader[str, UserRead]


def request_context(identity: Identity) -> Callable[[Any], IdentityContext]:
    """The ``context`` factory for ``build_app``: a fresh loader per request."""
    db = identity.db

    def build(_request: Any) -> IdentityContext:
        return IdentityContext(
            identity=identity, users=keyed_loader(lambda ids: users.get_users(db=db, ids=ids))
        )

    return build


def _identity(info: GraphQLResolveInfo) -> Identity:
    return IdentityContext.of(info).identity


def _client(info: GraphQLResolveInfo) -> ClientInfo:
    return client_info(request_of(info))


class _IdArg(BaseModel):
    value: Id


class _EmailArg(BaseModel):
    value: Email


def _id(value: Any, at: str = "id") -> str:
    try:
        return _IdArg.model_validate({"value": value}).value
    except ValidationError:
        raise ValidationFailed("INVALID_ID", "not a valid id", [at]) from None


def _email(value: Any, at: str = "email") -> str:
    try:
        return _EmailArg.model_validate({"value": value}).value
    except ValidationError:
        raise ValidationFailed("INVALID_EMAIL", "Enter a valid email address", [at]) from None


def _bounded(value: str, at: str, *, limit: int = 512) -> str:
    if not value or len(value) > limit:
        raise ValidationFailed("INVALID_TOKEN", "not a valid token", [at])
    return value


def throttled(
    resolver: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[R]]:
    """Let a rate-limit refusal also set the HTTP ``Retry-After`` header."""

    @functools.wraps(resolver)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await resolver(*args, **kwargs)
        except TooManyRequests as exc:
            # a resolver's arguments are (obj, info, **field arguments)
            info = args[1]
            hints = hints_of(request_of(info)) if isinstance(info, GraphQLResolveInfo) else None
            if hints is not None:
                hints.note(exc)
            raise

    return wrapper


def _self_or_admin(principal: Principal, user_id: str) -> None:
    if principal.subject != user_id and not principal.is_admin:
        raise Forbidden("NOT_YOUR_ACCOUNT", "You may only see your own account")


# ------------------------------------------------------------------------------- scalars

datetime_scalar = ScalarType("DateTime")


@datetime_scalar.serializer
def serialize_datetime(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


role_enum = EnumType("Role", Role)
address_kind_enum = EnumType("AddressKind", AddressKind)


# ------------------------------------------------------------------------------- types

user_type = FederatedObjectType("User")


@user_type.reference_resolver
async def resolve_user_reference(
    _: Any, info: GraphQLResolveInfo, representation: dict[str, Any]
) -> UserRead | None:
    principal = require_principal(info)
    user_id = _id(representation.get("id"))
    _self_or_admin(principal, user_id)
    return await IdentityContext.of(info).users.load(user_id)


def _address_view(user: UserRead, address: Any) -> dict[str, Any]:
    return {
        **address.model_dump(),
        "is_default_shipping": address.id == user.default_shipping_address_id,
        "is_default_billing": address.id == user.default_billing_address_id,
    }


@user_type.field("addresses")
def resolve_addresses(user: UserRead, _info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    return [_address_view(user, a) for a in user.addresses]


@user_type.field("defaultShippingAddress")
def resolve_default_shipping(user: UserRead, _info: GraphQLResolveInfo) -> dict[str, Any] | None:
    address = user.address(user.default_shipping_address_id)
    return _address_view(user, address) if address else None


@user_type.field("defaultBillingAddress")
def resolve_default_billing(user: UserRead, _info: GraphQLResolveInfo) -> dict[str, Any] | None:
    address = user.address(user.default_billing_address_id)
    return _address_view(user, address) if address else None


@dataclass(frozen=True, slots=True)
class UserConnection:
    page: users.UserPage
    has_previous: bool
    count: Callable[[], Awaitable[int]]
    cursors: Cursors

    def cursor_of(self, user: UserRead) -> str:
        return users.encode_cursor(user.id, cursors=self.cursors)


connection_type = ObjectType("UserConnection")


@connection_type.field("edges")
def resolve_edges(conn: UserConnection, _info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    return [{"cursor": conn.cursor_of(u), "node": u} for u in conn.page.users]


@connection_type.field("pageInfo")
def resolve_page_info(conn: UserConnection, _info: GraphQLResolveInfo) -> dict[str, Any]:
    page = conn.page.users
    return {
        "has_next_page": conn.page.has_next,
        "has_previous_page": conn.has_previous,
        "start_cursor": conn.cursor_of(page[0]) if page else None,
        "end_cursor": conn.cursor_of(page[-1]) if page else None,
    }


@connection_type.field("totalCount")
async def resolve_total_count(conn: UserConnection, _info: GraphQLResolveInfo) -> int:
    return await conn.count()


# ------------------------------------------------------------------------------ queries

query = QueryType()


@query.field("me")
async def resolve_me(_: Any, info: GraphQLResolveInfo) -> UserRead | None:
    principal = require_principal(info)
    return await IdentityContext.of(info).users.load(principal.subject)


@query.field("user")
async def resolve_user(_: Any, info: GraphQLResolveInfo, id: str) -> UserRead | None:
    require_roles(info, ADMIN)
    return await IdentityContext.of(info).users.load(_id(id))


@query.field("users")
async def resolve_users(
    _: Any,
    info: GraphQLResolveInfo,
    first: int = 20,
    after: str | None = None,
    role: Role | None = None,
) -> UserConnection:
    require_roles(info, ADMIN)
    identity = _identity(info)
    db, cursors = identity.db, identity.cursors
    last = users.decode_cursor(after, cursors=cursors) if after is not None else None
    page = await users.list_users(db=db, first=first, after=last, role=role)
    return UserConnection(
        page=page,
        has_previous=after is not None,
        count=lambda: users.count_users(db=db, role=role),
        cursors=cursors,
    )


# ---------------------------------------------------------------------------- mutations

mutation = MutationType()


@mutation.field("register")
@throttled
async def resolve_register(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> AuthResult:
    data = parse_input(RegisterInput, input, at=["input"])
    return await accounts.register(identity=_identity(info), data=data, client=_client(info))


@mutation.field("login")
@throttled
async def resolve_login(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> AuthResult:
    data = parse_input(LoginInput, input, at=["input"])
    return await sessions.login(
        identity=_identity(info),
        email=data.email,
        password=data.password,
        client=_client(info),
    )


@mutation.field("refreshToken")
@throttled
async def resolve_refresh_token(_: Any, info: GraphQLResolveInfo, refresh_token: str) -> AuthResult:
    return await sessions.refresh(
        identity=_identity(info),
        refresh_token=_bounded(refresh_token, "refreshToken"),
        client=_client(info),
    )


@mutation.field("logout")
async def resolve_logout(_: Any, info: GraphQLResolveInfo, refresh_token: str) -> bool:
    await sessions.logout(
        db=_identity(info).db, refresh_token=_bounded(refresh_token, "refreshToken")
    )
    return True


@mutation.field("logoutEverywhere")
async def resolve_logout_everywhere(_: Any, info: GraphQLResolveInfo) -> bool:
    principal = require_principal(info)
    await sessions.logout_everywhere(db=_identity(info).db, user_id=principal.subject)
    return True


@mutation.field("requestPasswordReset")
@throttled
async def resolve_request_password_reset(_: Any, info: GraphQLResolveInfo, email: str) -> bool:
    await recovery.request_password_reset(
        identity=_identity(info), email=_email(email), client=_client(info)
    )
    return True


@mutation.field("resetPassword")
@throttled
async def resolve_reset_password(
    _: Any, info: GraphQLResolveInfo, token: str, new_password: str
) -> bool:
    if len(new_password) > 1024:
        raise ValidationFailed("PASSWORD_TOO_LONG", "Use at most 1024 characters", ["newPassword"])
    await recovery.reset_password(
        identity=_identity(info),
        token=_bounded(token, "token"),
        new_password=new_password,
        client=_client(info),
    )
    return True


@mutation.field("requestEmailVerification")
@throttled
async def resolve_request_email_verification(_: Any, info: GraphQLResolveInfo) -> bool:
    principal = require_principal(info)
    return await recovery.request_email_verification(
        identity=_identity(info),
        user_id=principal.subject,
        client=_client(info),
    )


@mutation.field("verifyEmail")
async def resolve_verify_email(_: Any, info: GraphQLResolveInfo, token: str) -> bool:
    await recovery.verify_email(db=_identity(info).db, token=_bounded(token, "token"))
    return True


@mutation.field("updateProfile")
async def resolve_update_profile(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> UserRead:
    principal = require_principal(info)
    data = parse_input(ProfileUpdate, input, at=["input"])
    return await profile.update_profile(db=_identity(info).db, user_id=principal.subject, data=data)


@mutation.field("addAddress")
async def resolve_add_address(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> UserRead:
    principal = require_principal(info)
    data = parse_input(AddressInput, input, at=["input"])
    return await profile.add_address(identity=_identity(info), user_id=principal.subject, data=data)


@mutation.field("updateAddress")
async def resolve_update_address(
    _: Any, info: GraphQLResolveInfo, id: str, input: dict[str, Any]
) -> UserRead:
    principal = require_principal(info)
    patch = parse_input(AddressPatch, input, at=["input"])
    return await profile.update_address(
        db=_identity(info).db, user_id=principal.subject, address_id=_id(id), patch=patch
    )


@mutation.field("deleteAddress")
async def resolve_delete_address(_: Any, info: GraphQLResolveInfo, id: str) -> UserRead:
    principal = require_principal(info)
    return await profile.delete_address(
        db=_identity(info).db, user_id=principal.subject, address_id=_id(id)
    )


@mutation.field("setDefaultAddress")
async def resolve_set_default_address(
    _: Any, info: GraphQLResolveInfo, id: str, kind: AddressKind
) -> UserRead:
    principal = require_principal(info)
    return await profile.set_default_address(
        db=_identity(info).db, user_id=principal.subject, address_id=_id(id), kind=kind
    )


@mutation.field("grantRole")
async def resolve_grant_role(
    _: Any, info: GraphQLResolveInfo, user_id: str, role: Role, seller_id: str | None = None
) -> UserRead:
    actor = require_roles(info, ADMIN)
    return await roles.change_roles(
        db=_identity(info).db,
        actor=actor,
        user_id=_id(user_id, "userId"),
        grant=role,
        seller_id=_id(seller_id, "sellerId") if seller_id is not None else None,
    )


@mutation.field("revokeRole")
async def resolve_revoke_role(
    _: Any, info: GraphQLResolveInfo, user_id: str, role: Role
) -> UserRead:
    actor = require_roles(info, ADMIN)
    return await roles.change_roles(
        db=_identity(info).db, actor=actor, user_id=_id(user_id, "userId"), revoke=role
    )


bindables = [
    datetime_scalar,
    role_enum,
    address_kind_enum,
    user_type,
    connection_type,
    query,
    mutation,
]
