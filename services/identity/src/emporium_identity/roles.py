"""Roles: admins grant and revoke them; each change is one guarded write with its event."""

from __future__ import annotations

from emporium_kit.auth import Principal
from emporium_kit.documents import ChangeResult, Doc
from emporium_kit.errors import Forbidden, ValidationFailed

from emporium_identity import events
from emporium_identity.domain import BASE_ROLE, Role, sorted_roles
from emporium_identity.keys import utcnow
from emporium_identity.models import UserRead
from emporium_identity.store import IdentityDb
from emporium_identity.users import change_user


async def change_roles(
    *,
    db: IdentityDb,
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

    def change(doc: Doc) -> ChangeResult:
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
            return None  # nothing changes: no write, no event
        event = events.user_roles_changed(
            events.UserRolesChangedData(
                user_id=doc["_id"],
                roles=roles,
                seller_id=new_seller,
                granted=sorted_roles(after - before),
                revoked=sorted_roles(before - after),
                changed_by=actor.subject,
                version=int(doc.get("version") or 0) + 1,
                changed_at=utcnow(),
            )
        )
        return {"roles": roles, "seller_id": new_seller}, [event]

    return await change_user(db=db, user_id=user_id, change=change)
