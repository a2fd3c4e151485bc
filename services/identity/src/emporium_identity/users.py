"""User documents: reads, creation, and the one way every change to a user is written.

Every change to an account is ONE single-document write of the user, carrying its outbox
events, made by :func:`change_user` through the kit's guarded write path: under the user's
lease it reads the user, applies the change and writes it with a ``{_id, version}`` filter
and ``$inc: {version: 1}``. Concurrent changes of one account are applied one after the
other; none is lost, on FerretDB as on MongoDB.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emporium_kit.cursors import Cursors
from emporium_kit.documents import ChangeResult, Doc
from emporium_kit.errors import ValidationFailed
from ulid import ULID

from emporium_identity import events
from emporium_identity.domain import BASE_ROLE, Role, sorted_roles
from emporium_identity.keys import utcnow
from emporium_identity.models import USER_PROJECTION, UserRead
from emporium_identity.store import IdentityDb

MAX_PAGE = 100
# the user list's cursors (emporium_kit.cursors): the last user's id
USER_CURSORS = "identity.users"

# change(user) -> (fields to $set or an update document, events) | None for "no change";
# it may raise a DomainError to refuse
UserChange = Callable[[Doc], ChangeResult]


async def change_user(*, db: IdentityDb, user_id: str, change: UserChange) -> UserRead:
    """Apply ``change`` to the user under its lease; ``updated_at`` moves with every write.
    Raises ``USER_NOT_FOUND`` for an unknown user; whatever ``change`` raises writes
    nothing."""
    return UserRead.from_doc(await update_user(db=db, user_id=user_id, change=change))


async def update_user(*, db: IdentityDb, user_id: str, change: UserChange) -> Doc:
    """:func:`change_user`, returning the stored document (secrets included)."""

    def stamped(doc: Doc) -> ChangeResult:
        outcome = change(doc)
        if outcome is None:
            return None
        spec, pending = outcome
        return _stamp(spec, utcnow()), pending

    return await db.users.update(user_id, stamped)


def _stamp(spec: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    if any(key.startswith("$") for key in spec):
        update = {op: dict(fields) for op, fields in spec.items()}
        update.setdefault("$set", {})["updated_at"] = now
        return update
    return {**spec, "updated_at": now}


# ------------------------------------------------------------------------------------ reads


async def get_user(*, db: IdentityDb, user_id: str) -> UserRead | None:
    doc = await db.users.get(user_id, USER_PROJECTION)
    return UserRead.from_doc(doc) if doc else None


async def get_users(*, db: IdentityDb, ids: Sequence[str]) -> dict[str, UserRead]:
    """Batched lookup (DataLoader): one query for many ids."""
    docs = await db.users.find({"_id": {"$in": list(dict.fromkeys(ids))}}, USER_PROJECTION)
    return {doc["_id"]: UserRead.from_doc(doc) for doc in docs}


@dataclass(frozen=True, slots=True)
class UserPage:
    users: list[UserRead]
    has_next: bool


def encode_cursor(user_id: str, *, cursors: Cursors) -> str:
    return cursors.encode(user_id)


def decode_cursor(text: str, *, cursors: Cursors) -> str:
    """The id of the last user of the page a cursor of the user list ends."""

    def user_id(raw: Any) -> str:
        if not isinstance(raw, str):
            raise TypeError("not a user id")
        ULID.from_str(raw)
        return raw

    return cursors.decode(text, parse=user_id)


async def list_users(
    *, db: IdentityDb, first: int, after: str | None, role: Role | None
) -> UserPage:
    """Users in id (= creation) order, after the user id ``after``; keyset pagination on
    ``_id``."""
    if not 1 <= first <= MAX_PAGE:
        raise ValidationFailed("INVALID_PAGE_SIZE", f"first must be 1..{MAX_PAGE}", ["first"])
    flt: dict[str, Any] = {}
    if after is not None:
        flt["_id"] = {"$gt": after}
    if role is not None:
        flt["roles"] = role.value
    docs = await db.users.find(flt, USER_PROJECTION, sort=[("_id", 1)], limit=first + 1)
    return UserPage([UserRead.from_doc(d) for d in docs[:first]], has_next=len(docs) > first)


async def count_users(*, db: IdentityDb, role: Role | None) -> int:
    return await db.users.count({"roles": role.value} if role else {})


# --------------------------------------------------------------------------------- creation


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
    *,
    db: IdentityDb,
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
    return await db.users.insert(doc, [event])
