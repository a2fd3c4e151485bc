"""Opaque pagination cursors, signed so that a client can neither forge nor alter one.

A cursor is ``base64url(version byte + payload JSON + tag)``. The tag is the first 16 bytes
of HMAC-SHA256 keyed with the one shared secret (``EMPORIUM_CURSOR_SECRET``,
:attr:`ServiceSettings.cursor_secret`) over the list's name, the version and the payload, and
is compared in constant time. The name keeps a cursor to the list that issued it: a search
cursor sent to the catalog's product list, or a product cursor sent to the user list, does
not verify even though every service signs with the same secret. The version is the shape of
the payload: a service that changes what its cursors hold bumps it, and cursors issued before
are refused with a clear error instead of being misread::

    cursors = Cursors.from_settings(settings, "catalog.products")
    text = cursors.encode(["PRICE_ASC", 1999, product_id])
    sort, key, last_id = cursors.decode(text, parse=product_position)

Every refusal is ``ValidationFailed`` with code ``INVALID_CURSOR`` and the argument's path as
``field`` (``["after"]`` unless told). ``parse`` turns the verified payload into the service's
position; it raises :class:`CursorMismatchError` with a message for the client when the
cursor does not fit the request (another sort order, another query), and any other
``ValueError`` / ``TypeError`` / ``KeyError`` counts as a malformed cursor.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson

from emporium_kit.errors import ValidationFailed
from emporium_kit.settings import ServiceSettings

T = TypeVar("T")

MAX_CURSOR_CHARS = 512
TAG_BYTES = 16
INVALID_CURSOR = "INVALID_CURSOR"


class CursorMismatchError(ValueError):
    """A genuine cursor that does not fit this request; the message is shown to the client."""


def _unchanged(value: Any) -> Any:
    return value


class Cursors:
    """``Cursors(secret, name, version=1)``: encode and verify the cursors of one list."""

    def __init__(self, secret: bytes, name: str, *, version: int = 1) -> None:
        if not secret:
            raise ValueError("the cursor secret must not be empty")
        if not 1 <= version <= 255:
            raise ValueError("a cursor version is 1..255")
        self.name = name
        self.version = version
        self._secret = secret
        self._prefix = bytes([version])
        self._context = name.encode() + b"\0"

    @classmethod
    def from_settings(cls, settings: ServiceSettings, name: str, *, version: int = 1) -> Cursors:
        return cls(settings.cursor_secret.get_secret_value().encode(), name, version=version)

    def _tag(self, signed: bytes) -> bytes:
        return hmac.new(self._secret, self._context + signed, hashlib.sha256).digest()[:TAG_BYTES]

    def encode(self, payload: Any) -> str:
        """The cursor of ``payload`` (anything orjson serialises, small enough that its cursor
        fits ``MAX_CURSOR_CHARS``; ``ValueError`` otherwise)."""
        signed = self._prefix + orjson.dumps(payload)
        text = base64.urlsafe_b64encode(signed + self._tag(signed)).rstrip(b"=").decode("ascii")
        if len(text) > MAX_CURSOR_CHARS:
            # decode refuses it: a list must keep its cursor payloads small (ids, sort keys)
            raise ValueError(f"a {self.name} cursor would exceed {MAX_CURSOR_CHARS} characters")
        return text

    def decode(
        self,
        text: Any,
        *,
        field: Sequence[str | int] = ("after",),
        parse: Callable[[Any], T] = _unchanged,
    ) -> T:
        """The payload of a cursor this list issued, through ``parse``; ``INVALID_CURSOR`` at
        ``field`` for anything else."""

        def refuse(message: str) -> ValidationFailed:
            return ValidationFailed(INVALID_CURSOR, message, list(field))

        if not isinstance(text, str) or not 0 < len(text) <= MAX_CURSOR_CHARS:
            raise refuse("cursor is malformed")
        try:
            token = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raise refuse("cursor is malformed") from None
        signed, tag = token[:-TAG_BYTES], token[-TAG_BYTES:]
        if not signed or not hmac.compare_digest(tag, self._tag(signed)):
            raise refuse("cursor was not issued for this list")
        if signed[:1] != self._prefix:
            raise refuse("cursor is from an earlier version of this list; start from page one")
        try:
            return parse(orjson.loads(signed[1:]))
        except CursorMismatchError as exc:
            raise refuse(str(exc)) from None
        except (ValueError, TypeError, KeyError, orjson.JSONDecodeError):
            raise refuse("cursor is malformed") from None
