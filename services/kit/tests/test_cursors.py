"""Signed pagination cursors: what verifies, and how everything else is refused."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from emporium_kit.cursors import MAX_CURSOR_CHARS, TAG_BYTES, CursorMismatchError, Cursors
from emporium_kit.errors import ValidationFailed
from emporium_kit.settings import ServiceSettings
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

pytestmark = pytest.mark.unit

SECRET = b"kit-test-cursor-secret"
PRODUCTS = Cursors(SECRET, "shop.products")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def refusal(text: Any, cursors: Cursors = PRODUCTS, **options: Any) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        cursors.decode(text, **options)
    assert caught.value.code == "INVALID_CURSOR"
    return caught.value


def raw(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cursor_of(token: bytes) -> str:
    return base64.urlsafe_b64encode(token).rstrip(b"=").decode()


@given(json_values)
def test_what_a_list_encodes_it_decodes(payload: Any) -> None:
    """Every payload whose cursor fits the bound comes back; a larger one is refused when it
    is encoded, not handed out as a cursor that could never be decoded."""
    # version byte + JSON + tag, base64 without padding
    size = -(-(1 + len(orjson.dumps(payload)) + TAG_BYTES) * 4 // 3)
    if size > MAX_CURSOR_CHARS:
        with pytest.raises(ValueError, match="exceed"):
            PRODUCTS.encode(payload)
        return
    text = PRODUCTS.encode(payload)
    assert len(text) <= MAX_CURSOR_CHARS
    assert PRODUCTS.decode(text) == payload


def test_a_payload_too_large_for_a_cursor_is_refused_at_encoding() -> None:
    with pytest.raises(ValueError, match="exceed"):
        PRODUCTS.encode(["x" * MAX_CURSOR_CHARS])


def test_a_cursor_is_opaque_urlsafe_text() -> None:
    text = PRODUCTS.encode(["NAME", "acme phone", "p1"])
    assert "acme" not in text
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_every_changed_byte_is_refused() -> None:
    token = raw(PRODUCTS.encode(["PRICE_ASC", 1999, "p1"]))
    for index in range(len(token)):
        changed = bytearray(token)
        changed[index] ^= 0x01
        assert refusal(cursor_of(bytes(changed))).message in (
            "cursor was not issued for this list",
            "cursor is malformed",
        )


def test_another_secret_or_another_list_does_not_verify() -> None:
    payload = ["PRICE_ASC", 1, "p1"]
    for foreign in (Cursors(b"someone else", "shop.products"), Cursors(SECRET, "shop.users")):
        assert refusal(foreign.encode(payload)).message == "cursor was not issued for this list"


def test_cursors_of_an_earlier_version_are_refused_with_a_clear_message() -> None:
    old = Cursors(SECRET, "shop.products", version=1).encode(["NAME", "a", "p1"])
    current = Cursors(SECRET, "shop.products", version=2)
    assert refusal(old, current).message.startswith("cursor is from an earlier version")
    assert current.decode(current.encode(["NAME", "a", "p1"])) == ["NAME", "a", "p1"]


@pytest.mark.parametrize(
    "text", [None, 7, "", "not a cursor!", "AAAA", "x" * 513, cursor_of(b"\x01" * TAG_BYTES)]
)
def test_garbage_is_malformed_or_unsigned(text: Any) -> None:
    assert refusal(text).message in ("cursor is malformed", "cursor was not issued for this list")


def test_the_refusal_names_the_field() -> None:
    assert refusal("AAAA").field == ["after"]
    assert refusal("AAAA", field=["filter", "after"]).field == ["filter", "after"]


def test_parse_decides_what_fits_the_request() -> None:
    text = PRODUCTS.encode(["NAME", "a", "p1"])

    def for_price_sort(payload: Any) -> tuple[str, str]:
        sort, _key, last_id = payload
        if sort != "PRICE_ASC":
            raise CursorMismatchError("cursor belongs to another sort order")
        return sort, last_id

    assert refusal(text, parse=for_price_sort).message == "cursor belongs to another sort order"
    assert refusal(PRODUCTS.encode(["NAME"]), parse=for_price_sort).message == (
        "cursor is malformed"
    )
    assert PRODUCTS.decode(PRODUCTS.encode(["PRICE_ASC", 1, "p9"]), parse=for_price_sort) == (
        "PRICE_ASC",
        "p9",
    )


def test_the_secret_comes_from_the_settings_and_production_refuses_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EMPORIUM_CURSOR_SECRET", raising=False)
    monkeypatch.delenv("EMPORIUM_ENVIRONMENT", raising=False)
    development = ServiceSettings(service_name="demo", _env_file=None)
    cursors = Cursors.from_settings(development, "shop.products")
    assert cursors.decode(cursors.encode([1])) == [1]
    with pytest.raises(ValidationError, match="EMPORIUM_CURSOR_SECRET must be set in production"):
        ServiceSettings(service_name="demo", environment="production", _env_file=None)
    with pytest.raises(ValidationError, match="at least 32 characters"):
        ServiceSettings(
            service_name="demo", environment="production", cursor_secret="short", _env_file=None
        )
    monkeypatch.setenv("EMPORIUM_CURSOR_SECRET", "s" * 32)
    production = ServiceSettings(service_name="demo", environment="production", _env_file=None)
    signed_in_production = Cursors.from_settings(production, "shop.products")
    assert refusal(cursors.encode([1]), signed_in_production).message == (
        "cursor was not issued for this list"
    )
