"""The address book rules, as pure functions over the user document's fields.

- at most ``limit`` addresses per user;
- at most one default shipping and one default billing address, stored as ids on the user
  (so "one default" holds by construction);
- while the user has addresses, both defaults point at one of them: the first address becomes
  both defaults, and deleting a default moves it to the oldest remaining address.

The service reads the user, applies one of these functions and writes the result back with
a compare-and-set on the document's version: one single-document update.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from emporium_kit.errors import NotFound, ValidationFailed
from pydantic.alias_generators import to_camel

from emporium_identity.models import REQUIRED_ADDRESS_FIELDS, AddressInput, AddressPatch


class AddressKind(StrEnum):
    SHIPPING = "SHIPPING"
    BILLING = "BILLING"


@dataclass(frozen=True, slots=True)
class AddressBook:
    addresses: tuple[dict[str, Any], ...]
    default_shipping: str | None
    default_billing: str | None

    @classmethod
    def of(cls, user: dict[str, Any]) -> AddressBook:
        return cls(
            addresses=tuple(dict(a) for a in user.get("addresses") or ()),
            default_shipping=user.get("default_shipping_address_id"),
            default_billing=user.get("default_billing_address_id"),
        )

    def fields(self) -> dict[str, Any]:
        """The user-document fields to ``$set``."""
        return {
            "addresses": [dict(a) for a in self.addresses],
            "default_shipping_address_id": self.default_shipping,
            "default_billing_address_id": self.default_billing,
        }

    def _index(self, address_id: str) -> int:
        for index, address in enumerate(self.addresses):
            if address["id"] == address_id:
                return index
        raise NotFound("ADDRESS_NOT_FOUND", "No such address", ["id"])

    def _with_defaults(self) -> AddressBook:
        """Point missing or dangling defaults at the oldest address (or at nothing)."""
        ids = [a["id"] for a in self.addresses]
        fallback = ids[0] if ids else None
        return replace(
            self,
            default_shipping=self.default_shipping if self.default_shipping in ids else fallback,
            default_billing=self.default_billing if self.default_billing in ids else fallback,
        )


def add_address(
    book: AddressBook, data: AddressInput, *, address_id: str, now: datetime, limit: int
) -> AddressBook:
    if len(book.addresses) >= limit:
        raise ValidationFailed(
            "ADDRESS_LIMIT_REACHED", f"An account holds at most {limit} addresses", ["input"]
        )
    address = data.model_dump(exclude={"default_shipping", "default_billing"})
    address.update(id=address_id, created_at=now, updated_at=now)
    result = replace(book, addresses=(*book.addresses, address))
    if data.default_shipping:
        result = replace(result, default_shipping=address_id)
    if data.default_billing:
        result = replace(result, default_billing=address_id)
    return result._with_defaults()


def update_address(
    book: AddressBook, address_id: str, patch: AddressPatch, *, now: datetime
) -> AddressBook:
    index = book._index(address_id)
    changes = patch.model_dump(include=patch.model_fields_set)
    for name, value in changes.items():
        if value is None and name in REQUIRED_ADDRESS_FIELDS:
            raise ValidationFailed(
                "REQUIRED", f"{to_camel(name)} cannot be cleared", ["input", to_camel(name)]
            )
    updated = {**book.addresses[index], **changes, "updated_at": now}
    addresses = (*book.addresses[:index], updated, *book.addresses[index + 1 :])
    return replace(book, addresses=addresses)


def delete_address(book: AddressBook, address_id: str) -> AddressBook:
    index = book._index(address_id)
    addresses = book.addresses[:index] + book.addresses[index + 1 :]
    return replace(book, addresses=addresses)._with_defaults()


def set_default_address(book: AddressBook, address_id: str, kind: AddressKind) -> AddressBook:
    book._index(address_id)
    if kind is AddressKind.SHIPPING:
        return replace(book, default_shipping=address_id)
    return replace(book, default_billing=address_id)
