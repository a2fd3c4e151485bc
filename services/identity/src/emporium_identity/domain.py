"""Pure identity rules: email normalisation, the password policy, token secrets and hashes,
roles and the scopes they grant, address-field checks and the lockout curve.

Nothing here touches a store, so every rule is unit-tested on its own.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

import email_validator
import phonenumbers
import pycountry

MAX_EMAIL_LENGTH = 254
TOKEN_BYTES = 32


class Role(StrEnum):
    CUSTOMER = "customer"
    SELLER = "seller"
    ADMIN = "admin"


# Every account is a customer; the other roles are granted by an admin.
BASE_ROLE = Role.CUSTOMER

# Scopes carried in the access token's ``scope`` claim, derived from roles in this one
# place; the gateway's @requiresScopes and the subgraphs' SDL name them.
ROLE_SCOPES: dict[Role, tuple[str, ...]] = {
    Role.CUSTOMER: ("profile",),
    Role.SELLER: ("profile", "catalog:write"),
    Role.ADMIN: ("profile", "catalog:write", "identity:admin"),
}


def scopes_for(roles: Iterable[str]) -> list[str]:
    """The sorted union of the scopes of ``roles`` (unknown roles grant nothing)."""
    granted: set[str] = set()
    for role in roles:
        if role in Role.__members__.values():
            granted.update(ROLE_SCOPES[Role(role)])
    return sorted(granted)


def sorted_roles(roles: Iterable[str]) -> list[str]:
    """Roles in their declaration order (customer, seller, admin), duplicates dropped."""
    wanted = set(roles)
    return [role.value for role in Role if role.value in wanted]


class RuleViolation(ValueError):  # noqa: N818 (reads as an outcome, like the kit's errors)
    """An input broke a rule: ``code`` is stable, ``message`` safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ------------------------------------------------------------------------------------ emails


def normalize_email(raw: str) -> str:
    """The canonical form of an address: trimmed, NFKC, lower-cased, syntax-checked.

    Lower-casing the local part is not RFC 5321 but it is what every large provider does,
    and it makes ``Alice@x`` and ``alice@x`` one account. Full-width and other compatibility
    forms fold to ASCII under NFKC, so look-alike registrations of one address collide.
    """
    value = unicodedata.normalize("NFKC", raw.strip()).lower()
    if not value or len(value) > MAX_EMAIL_LENGTH:
        raise RuleViolation("INVALID_EMAIL", "Enter a valid email address")
    try:
        result = email_validator.validate_email(
            value, check_deliverability=False, allow_quoted_local=False
        )
    except email_validator.EmailNotValidError as exc:
        raise RuleViolation("INVALID_EMAIL", "Enter a valid email address") from exc
    return result.normalized


# --------------------------------------------------------------------------------- passwords


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common/breached passwords (lower-cased; see docs/identity.md)."""
    data = resources.files("emporium_identity").joinpath("data/common-passwords.txt.gz")
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def normalize_password(password: str) -> str:
    """NFKC, as NIST SP 800-63B asks, so one password typed on two keyboards matches."""
    return unicodedata.normalize("NFKC", password)


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Length bounds (in characters, after NFKC), not common, not the email itself."""

    min_length: int = 10
    max_length: int = 128

    def problems(self, password: str, *, email: str | None = None) -> list[RuleViolation]:
        value = normalize_password(password)
        found: list[RuleViolation] = []
        if len(value) < self.min_length:
            found.append(
                RuleViolation("PASSWORD_TOO_SHORT", f"Use at least {self.min_length} characters")
            )
        if len(value) > self.max_length:
            found.append(
                RuleViolation("PASSWORD_TOO_LONG", f"Use at most {self.max_length} characters")
            )
        lowered = value.lower()
        if lowered in common_passwords() or _single_repeated(lowered):
            found.append(
                RuleViolation("PASSWORD_TOO_COMMON", "This password is too common; choose another")
            )
        if email and _echoes_email(lowered, email):
            found.append(
                RuleViolation("PASSWORD_CONTAINS_EMAIL", "The password must not contain your email")
            )
        return found

    def check(self, password: str, *, email: str | None = None) -> None:
        """Raise the first problem, if any."""
        problems = self.problems(password, email=email)
        if problems:
            raise problems[0]


def _single_repeated(value: str) -> bool:
    return len(set(value)) <= 2


def _echoes_email(password: str, email: str) -> bool:
    local = email.split("@", 1)[0]
    return password == email or (len(local) >= 4 and local in password)


# ------------------------------------------------------------------------- opaque tokens


def new_secret() -> str:
    """An unguessable, URL-safe opaque token (256 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """What the store keeps instead of an opaque token: its SHA-256 (hex).

    The tokens carry 256 random bits, so a fast hash is enough: there is nothing to guess.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def account_key(email: str) -> str:
    """A stable, non-reversible id of an account name for rate-limit keys (no PII in Redis)."""
    return hashlib.sha256(email.encode()).hexdigest()[:32]


# ------------------------------------------------------------------------------- addresses

POSTAL_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]*[A-Za-z0-9]$")
POSTAL_CODE_MIN = 2
POSTAL_CODE_MAX = 10


def check_country(value: str) -> str:
    """An ISO 3166-1 alpha-2 code (upper-cased)."""
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise RuleViolation("INVALID_COUNTRY", "Use an ISO 3166-1 alpha-2 country code")
    return code


def check_postal_code(value: str) -> str:
    code = " ".join(value.split()).upper()
    if not POSTAL_CODE_MIN <= len(code) <= POSTAL_CODE_MAX or not POSTAL_CODE_RE.match(code):
        raise RuleViolation(
            "INVALID_POSTAL_CODE",
            f"Postal codes have {POSTAL_CODE_MIN}-{POSTAL_CODE_MAX} letters, digits, "
            "spaces or hyphens",
        )
    return code


def check_phone(value: str) -> str:
    """A valid international number, returned in E.164 (``+4930123456``)."""
    raw = value.strip()
    if not raw.startswith("+") or len(raw) > 32:
        raise RuleViolation("INVALID_PHONE", "Use the international format, e.g. +14155552671")
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        raise RuleViolation(
            "INVALID_PHONE", "Use the international format, e.g. +14155552671"
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise RuleViolation("INVALID_PHONE", "This phone number does not exist")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# ---------------------------------------------------------------------------------- lockout


def lockout_seconds(failures: int, *, threshold: int, base_s: float, max_s: float) -> float:
    """How long an account stays locked after its ``failures``-th consecutive failure.

    Nothing below the threshold, then doubling per further failure: 5 failures with the
    defaults lock for 2 s, 6 for 4 s, ... 14 for 512 s, capped at ``max_s``.
    """
    if failures < threshold:
        return 0.0
    exponent = min(failures - threshold, 32)
    return float(min(max_s, base_s * (2**exponent)))
