"""Pure rules: email normalisation, password policy, token hashing, scopes, the lockout curve,
address fields and the address book."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from emporium_identity import addressbook, domain, users
from emporium_identity.addressbook import AddressBook, AddressKind
from emporium_identity.domain import PasswordPolicy, RuleViolation
from emporium_identity.errors import TooManyRequests
from emporium_identity.models import AddressInput, AddressPatch, LoginInput, RegisterInput
from emporium_identity.settings import DEV_KEY_ENCRYPTION_KEY, IdentitySettings
from emporium_kit.cursors import Cursors
from emporium_kit.errors import NotFound, ValidationFailed
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _wide(text: str) -> str:
    """The full-width (U+FF01..) form of ASCII letters."""
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


# ----------------------------------------------------------------------------- emails


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Alice@Example.COM ", "alice@example.com"),
        ("ALICE@EXAMPLE.COM", "alice@example.com"),
        (f"{_wide('alice')}@{_wide('example')}.com", "alice@example.com"),  # NFKC folds full-width
        ("bob+shop@example.co.uk", "bob+shop@example.co.uk"),
        ("ﬁona@example.com", "fiona@example.com"),  # the "fi" ligature folds too
    ],
)
def test_normalize_email(raw: str, expected: str) -> None:
    assert domain.normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", "no-at-sign", "a@b", "a@@example.com", "x" * 250 + "@example.com"]
)
def test_invalid_emails_are_rejected(raw: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        domain.normalize_email(raw)
    assert caught.value.code == "INVALID_EMAIL"


@given(st.emails())
def test_normalisation_is_idempotent(email: str) -> None:
    try:
        once = domain.normalize_email(email)
    except RuleViolation:
        return  # hypothesis emails include forms our stricter rules refuse
    assert domain.normalize_email(once) == once
    assert once == once.strip().lower()


# -------------------------------------------------------------------------- passwords


def test_common_password_list_is_shipped() -> None:
    words = domain.common_passwords()
    assert len(words) > 10_000
    assert {"123456", "password", "qwerty", "iloveyou"} <= words


@pytest.mark.parametrize(
    ("password", "codes"),
    [
        ("short", ["PASSWORD_TOO_SHORT"]),
        ("password123", ["PASSWORD_TOO_COMMON"]),
        ("PASSWORD123", ["PASSWORD_TOO_COMMON"]),  # case does not make it rare
        ("aaaaaaaaaaaaaa", ["PASSWORD_TOO_COMMON"]),
        ("ababababababab", ["PASSWORD_TOO_COMMON"]),
        ("xy1" * 43, ["PASSWORD_TOO_LONG"]),
        ("my name is alice, ok", ["PASSWORD_CONTAINS_EMAIL"]),
        ("correct horse battery staple", []),
        ("Tr0ub4dor&3-but-longer", []),
    ],
)
def test_password_policy(password: str, codes: list[str]) -> None:
    policy = PasswordPolicy(min_length=10, max_length=128)
    problems = policy.problems(password, email="alice@example.com")
    assert [p.code for p in problems] == codes


def test_password_length_counts_characters_after_nfkc() -> None:
    policy = PasswordPolicy(min_length=10, max_length=12)
    # ten full-width letters are ten characters (not thirty UTF-8 bytes)
    assert policy.problems(_wide("zyxwvutsrq")) == []
    # each "ffi" ligature becomes three characters: 2 + 4 * 3 = 14 > 12
    assert [p.code for p in policy.problems("ab" + "ﬃ" * 4)] == ["PASSWORD_TOO_LONG"]


# ------------------------------------------------------------------------ opaque tokens


def test_token_hashing() -> None:
    token = domain.new_secret()
    assert len(token) >= 43  # 256 bits in base64url
    assert domain.new_secret() != token
    digest = domain.hash_token(token)
    assert len(digest) == 64
    assert digest == domain.hash_token(token)
    assert digest != domain.hash_token(token + "x")
    assert token not in digest
    assert domain.same_hash(digest, domain.hash_token(token))
    assert not domain.same_hash(digest, domain.hash_token("other"))


def test_account_keys_hide_the_email() -> None:
    key = domain.account_key("alice@example.com")
    assert "alice" not in key
    assert key == domain.account_key("alice@example.com")
    assert key != domain.account_key("bob@example.com")


# ------------------------------------------------------------------------ roles, lockout


def test_scopes_follow_roles() -> None:
    assert domain.scopes_for(["customer"]) == ["profile"]
    assert domain.scopes_for(["customer", "seller"]) == ["catalog:write", "profile"]
    assert "identity:admin" in domain.scopes_for(["admin"])
    assert domain.scopes_for(["root"]) == []
    assert domain.sorted_roles(["admin", "customer", "admin"]) == ["customer", "admin"]


def test_lockout_curve() -> None:
    delays = [domain.lockout_seconds(n, threshold=5, base_s=2.0, max_s=900.0) for n in range(1, 20)]
    assert delays[:4] == [0.0] * 4
    assert delays[4:8] == [2.0, 4.0, 8.0, 16.0]
    assert max(delays) == 900.0
    assert delays == sorted(delays)
    assert domain.lockout_seconds(10_000, threshold=5, base_s=2.0, max_s=900.0) == 900.0


def test_too_many_requests_rounds_retry_after_up() -> None:
    assert TooManyRequests("RATE_LIMITED", "x", retry_after_s=0.2).retry_after == 1
    error = TooManyRequests("RATE_LIMITED", "x", retry_after_s=41.01)
    assert error.extensions()["retryAfter"] == 42
    assert error.extensions()["kind"] == "RATE_LIMITED"


# ---------------------------------------------------------------------- address fields


@pytest.mark.parametrize(
    ("check", "value", "expected"),
    [
        (domain.check_country, "de", "DE"),
        (domain.check_country, " us ", "US"),
        (domain.check_postal_code, "sw1a  1aa", "SW1A 1AA"),
        (domain.check_postal_code, "10117", "10117"),
        (domain.check_postal_code, "94103-1234", "94103-1234"),
        (domain.check_phone, "+1 (415) 555-2671", "+14155552671"),
        (domain.check_phone, "+49 30 901820", "+4930901820"),
    ],
)
def test_valid_address_fields(check: object, value: str, expected: str) -> None:
    assert check(value) == expected  # type: ignore[operator]


@pytest.mark.parametrize(
    ("check", "value", "code"),
    [
        (domain.check_country, "XX", "INVALID_COUNTRY"),
        (domain.check_country, "DEU", "INVALID_COUNTRY"),
        (domain.check_postal_code, "1", "INVALID_POSTAL_CODE"),
        (domain.check_postal_code, "12345678901", "INVALID_POSTAL_CODE"),
        (domain.check_postal_code, "12_45", "INVALID_POSTAL_CODE"),
        (domain.check_phone, "4155552671", "INVALID_PHONE"),
        (domain.check_phone, "+1 555", "INVALID_PHONE"),
        (domain.check_phone, "+abc", "INVALID_PHONE"),
    ],
)
def test_invalid_address_fields(check: object, value: str, code: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        check(value)  # type: ignore[operator]
    assert caught.value.code == code


def test_input_models_bound_and_normalise() -> None:
    data = RegisterInput(email=" Bob@Example.com", password="x")
    assert data.email == "bob@example.com"
    with pytest.raises(ValidationError) as caught:
        RegisterInput(email="bob@example.com", password="x" * 2000)
    assert caught.value.errors()[0]["type"] == "string_too_long"
    with pytest.raises(ValidationError) as caught:
        AddressInput(full_name="A", line_1="B", city="C", postal_code="1", country="DE")
    assert caught.value.errors()[0]["type"] == "invalid_postal_code"
    with pytest.raises(ValidationError):
        LoginInput(email="a@example.com", password="p", extra="x")  # type: ignore[call-arg]


# ----------------------------------------------------------------------- address book


def _input(**overrides: object) -> AddressInput:
    fields: dict[str, object] = {
        "full_name": "Ada",
        "line_1": "1 Main St",
        "city": "Springfield",
        "postal_code": "12345",
        "country": "US",
    }
    fields.update(overrides)
    return AddressInput.model_validate(fields)


def _add(book: AddressBook, address_id: str, **overrides: object) -> AddressBook:
    return addressbook.add_address(
        book, _input(**overrides), address_id=address_id, now=NOW, limit=3
    )


EMPTY = AddressBook((), None, None)


def test_first_address_is_both_defaults_and_defaults_move_on_delete() -> None:
    book = _add(EMPTY, "a")
    assert (book.default_shipping, book.default_billing) == ("a", "a")
    book = _add(book, "b", default_billing=True)
    assert (book.default_shipping, book.default_billing) == ("a", "b")
    book = addressbook.set_default_address(book, "b", AddressKind.SHIPPING)
    assert (book.default_shipping, book.default_billing) == ("b", "b")
    book = addressbook.delete_address(book, "b")
    assert (book.default_shipping, book.default_billing) == ("a", "a")
    book = addressbook.delete_address(book, "a")
    assert book == EMPTY


def test_address_limit_and_unknown_ids() -> None:
    book = _add(_add(_add(EMPTY, "a"), "b"), "c")
    with pytest.raises(ValidationFailed) as caught:
        _add(book, "d")
    assert caught.value.code == "ADDRESS_LIMIT_REACHED"
    for change in (
        lambda: addressbook.delete_address(book, "zz"),
        lambda: addressbook.set_default_address(book, "zz", AddressKind.BILLING),
        lambda: addressbook.update_address(book, "zz", AddressPatch(city="X"), now=NOW),
    ):
        with pytest.raises(NotFound) as missing:
            change()
        assert missing.value.field == ["id"]


def test_patch_changes_only_given_fields_and_keeps_required_ones() -> None:
    book = _add(EMPTY, "a", line_2="Flat 2", region="IL")
    patched = addressbook.update_address(
        book, "a", AddressPatch.model_validate({"city": "Shelbyville", "line_2": None}), now=NOW
    )
    address = patched.addresses[0]
    assert (address["city"], address["line_2"], address["region"]) == ("Shelbyville", None, "IL")
    with pytest.raises(ValidationFailed) as caught:
        addressbook.update_address(
            book, "a", AddressPatch.model_validate({"postal_code": None}), now=NOW
        )
    assert caught.value.field == ["input", "postalCode"]


# ---------------------------------------------------------------------- misc


def test_user_cursors_round_trip_and_reject_garbage() -> None:
    cursors = Cursors(b"unit-test-secret", users.USER_CURSORS)
    user_id = "01JGFJJZ00KNWV38VZ6601RSR6"
    assert users.decode_cursor(users.encode_cursor(user_id, cursors=cursors), cursors=cursors) == (
        user_id
    )
    for garbage in ("!!not-a-cursor", cursors.encode("not-a-ulid"), cursors.encode(7)):
        with pytest.raises(ValidationFailed) as caught:
            users.decode_cursor(garbage, cursors=cursors)
        assert (caught.value.code, caught.value.field) == ("INVALID_CURSOR", ["after"])


def test_production_needs_real_secrets() -> None:
    shared = {"cursor_secret": "a production cursor secret, 32+ chars"}
    with pytest.raises(ValidationError, match="KEY_ENCRYPTION_KEYS"):
        IdentitySettings(
            environment="production", identity_public_url="https://id.example", **shared
        )
    settings = IdentitySettings(
        environment="production",
        identity_public_url="https://id.example",
        identity_key_encryption_keys="a2V5LWVuY3J5cHRpb24ta2V5LWZvci1wcm9kLXVzZSEh",
        **shared,
    )
    assert settings.encryption_keys[0] != DEV_KEY_ENCRYPTION_KEY.encode()


def test_demo_seller_is_the_catalog_seeds_first_seller() -> None:
    catalog_seed = pytest.importorskip("emporium_catalog.seed")
    first = catalog_seed.generate(products=0).sellers[0]
    assert IdentitySettings().identity_demo_seller_id == first["_id"]
