"""Identity documents and the Pydantic models around them.

Collection ``users``, one document per account; addresses live inside it so that every
change to an account (and the events it causes) is ONE single-document update::

    {_id, email, email_verified, password_hash | null, display_name, phone, locale,
     roles: ["customer", ...], seller_id | null,
     addresses: [{id, label, full_name, line_1, line_2, city, region, postal_code, country,
                  phone, created_at, updated_at}],
     default_shipping_address_id, default_billing_address_id,
     sessions_valid_after | null,            # "log out everywhere" / password reset
     password_reset: {token_hash, expires_at} | absent,
     email_verification: {token_hash, email, expires_at} | absent,
     version, created_at, updated_at, outbox: [...pending events...]}

``sessions``: ``{_id, user_id, method, created_at, expires_at, last_used_at, revoked_at,
revoked_reason, client: {address, user_agent}}`` (one refresh-token family).
``refresh_tokens``: ``{_id: sha256(token), session_id, user_id, issued_at, expires_at,
replaced_at}``. ``oauth_links``: ``{_id: "<provider>|<subject>", provider, subject, user_id,
email, linked_at}``. ``signing_keys``: see :mod:`emporium_identity.keys`.

Input models bound every field; their validators raise errors whose type is the stable code
(``invalid_country`` -> ``INVALID_COUNTRY`` in ``extensions``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from emporium_identity.domain import (
    RuleViolation,
    check_country,
    check_phone,
    check_postal_code,
    normalize_email,
)

MAX_RAW_PASSWORD = 1024  # a bound before any work; the policy's own maximum is lower
LOCALE_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Z]{2}|-[A-Za-z]{4}|-\d{3})?$")
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _rule(check: Callable[[str], str]) -> Callable[[str], str]:
    """Turn a domain check into a pydantic validator whose error type is the rule's code."""

    def validate(value: str) -> str:
        try:
            return check(value)
        except RuleViolation as exc:
            raise PydanticCustomError(exc.code.lower(), exc.message) from None

    return validate


def _locale(value: str) -> str:
    if not LOCALE_RE.match(value):
        raise RuleViolation("INVALID_LOCALE", "Use a language tag such as en or en-US")
    return value


def _id(value: str) -> str:
    if not ID_RE.match(value):
        raise RuleViolation("INVALID_ID", "not a valid id")
    return value


Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(_rule(normalize_email))]
RawPassword = Annotated[str, StringConstraints(min_length=1, max_length=MAX_RAW_PASSWORD)]
Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Country = Annotated[str, StringConstraints(max_length=8), AfterValidator(_rule(check_country))]
PostalCode = Annotated[
    str, StringConstraints(max_length=32), AfterValidator(_rule(check_postal_code))
]
Phone = Annotated[str, StringConstraints(max_length=32), AfterValidator(_rule(check_phone))]
Locale = Annotated[str, StringConstraints(max_length=16), AfterValidator(_rule(_locale))]
Id = Annotated[str, StringConstraints(max_length=64), AfterValidator(_rule(_id))]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- inputs


class RegisterInput(_Input):
    email: Email
    password: RawPassword
    display_name: Text100 | None = None


class LoginInput(_Input):
    # Not normalised here: a malformed email must fail like a wrong password.
    email: Annotated[str, StringConstraints(min_length=1, max_length=320)]
    password: RawPassword


class ProfileUpdate(_Input):
    """Only the fields present change; an explicit ``null`` clears a field."""

    display_name: Text100 | None = None
    phone: Phone | None = None
    locale: Locale | None = None


class AddressInput(_Input):
    label: Label | None = None
    full_name: Text100
    line_1: Text200
    line_2: Text200 | None = None
    city: Text100
    region: Text100 | None = None
    postal_code: PostalCode
    country: Country
    phone: Phone | None = None
    default_shipping: bool = False
    default_billing: bool = False


class AddressPatch(_Input):
    """Only the fields present change; ``null`` clears an optional field."""

    label: Label | None = None
    full_name: Text100 | None = None
    line_1: Text200 | None = None
    line_2: Text200 | None = None
    city: Text100 | None = None
    region: Text100 | None = None
    postal_code: PostalCode | None = None
    country: Country | None = None
    phone: Phone | None = None


# Fields a patch may not clear (the address would no longer be deliverable).
REQUIRED_ADDRESS_FIELDS = frozenset({"full_name", "line_1", "city", "postal_code", "country"})


# ------------------------------------------------------------------------------ reads


class AddressRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    label: str | None = None
    full_name: str
    line_1: str
    line_2: str | None = None
    city: str
    region: str | None = None
    postal_code: str
    country: str
    phone: str | None = None
    created_at: datetime
    updated_at: datetime


class UserRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    email: str
    email_verified: bool
    has_password: bool
    display_name: str | None = None
    phone: str | None = None
    locale: str | None = None
    roles: list[str]
    seller_id: str | None = None
    addresses: list[AddressRead] = Field(default_factory=list)
    default_shipping_address_id: str | None = None
    default_billing_address_id: str | None = None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> UserRead:
        return cls(
            id=doc["_id"],
            email=doc["email"],
            email_verified=bool(doc.get("email_verified")),
            has_password=doc.get("password_hash") is not None,
            display_name=doc.get("display_name"),
            phone=doc.get("phone"),
            locale=doc.get("locale"),
            roles=list(doc.get("roles") or []),
            seller_id=doc.get("seller_id"),
            addresses=[AddressRead.model_validate(a) for a in doc.get("addresses") or []],
            default_shipping_address_id=doc.get("default_shipping_address_id"),
            default_billing_address_id=doc.get("default_billing_address_id"),
            version=int(doc.get("version", 1)),
            created_at=doc["created_at"],
            updated_at=doc["updated_at"],
        )

    def address(self, address_id: str | None) -> AddressRead | None:
        if address_id is None:
            return None
        return next((a for a in self.addresses if a.id == address_id), None)


# Fields a UserRead never needs: secrets and the outbox.
USER_PROJECTION = {
    "outbox": 0,
    "password_reset": 0,
    "email_verification": 0,
}
