"""Profile and address book: each change is one guarded write of the user."""

from __future__ import annotations

from emporium_kit.documents import ChangeResult, Doc
from ulid import ULID

from emporium_identity import addressbook
from emporium_identity.addressbook import AddressBook, AddressKind
from emporium_identity.core import Identity
from emporium_identity.keys import utcnow
from emporium_identity.models import AddressInput, AddressPatch, ProfileUpdate, UserRead
from emporium_identity.store import IdentityDb
from emporium_identity.users import change_user


async def update_profile(*, db: IdentityDb, user_id: str, data: ProfileUpdate) -> UserRead:
    fields = data.model_dump(include=data.model_fields_set)
    return await change_user(db=db, user_id=user_id, change=lambda _doc: (fields, []))


async def add_address(*, identity: Identity, user_id: str, data: AddressInput) -> UserRead:
    address_id = str(ULID())
    limit = identity.settings.identity_max_addresses

    def change(doc: Doc) -> ChangeResult:
        book = addressbook.add_address(
            AddressBook.of(doc), data, address_id=address_id, now=utcnow(), limit=limit
        )
        return book.fields(), []

    return await change_user(db=identity.db, user_id=user_id, change=change)


async def update_address(
    *, db: IdentityDb, user_id: str, address_id: str, patch: AddressPatch
) -> UserRead:
    def change(doc: Doc) -> ChangeResult:
        book = addressbook.update_address(AddressBook.of(doc), address_id, patch, now=utcnow())
        return book.fields(), []

    return await change_user(db=db, user_id=user_id, change=change)


async def delete_address(*, db: IdentityDb, user_id: str, address_id: str) -> UserRead:
    def change(doc: Doc) -> ChangeResult:
        return addressbook.delete_address(AddressBook.of(doc), address_id).fields(), []

    return await change_user(db=db, user_id=user_id, change=change)


async def set_default_address(
    *, db: IdentityDb, user_id: str, address_id: str, kind: AddressKind
) -> UserRead:
    def change(doc: Doc) -> ChangeResult:
        book = addressbook.set_default_address(AddressBook.of(doc), address_id, kind)
        return book.fields(), []

    return await change_user(db=db, user_id=user_id, change=change)
