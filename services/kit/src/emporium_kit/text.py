"""What text a client may send: every string of every GraphQL input, checked in one place.

Refused anywhere in a string: C0 and C1 control characters other than tab, line feed and
carriage return (NUL, ESC, DEL...), and the bidirectional embedding, override and isolate
controls (U+202A-U+202E, U+2066-U+2069) that make a product name or a display name render
as something other than what is stored ("Trojan Source"). Ordinary right-to-left text, and
the marks U+200E/U+200F, are fine. Invalid Unicode (a lone surrogate) never gets this far:
the request body does not decode (see :mod:`emporium_kit.graphql`).

:func:`find_forbidden` walks GraphQL variables (any JSON value) and reports the first bad
string with its path, e.g. ``["input", "listings", 0, "sku"]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from emporium_kit.errors import FieldPath, ValidationFailed

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
INVALID_CHARACTERS = "INVALID_CHARACTERS"


def forbidden_character(text: str) -> str | None:
    """The first forbidden character of ``text`` as ``U+XXXX``, or ``None``."""
    match = _FORBIDDEN.search(text)
    return f"U+{ord(match.group()):04X}" if match else None


def find_forbidden(value: Any, path: FieldPath) -> tuple[FieldPath, str] | None:
    """The path and code point of the first string under ``value`` with a forbidden
    character; keys of objects are checked as well as values."""
    if isinstance(value, str):
        found = forbidden_character(value)
        return (path, found) if found else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and (found := forbidden_character(key)):
                return ([*path, key], found)
            if hit := find_forbidden(item, [*path, key]):
                return hit
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if hit := find_forbidden(item, [*path, index]):
                return hit
    return None


def invalid_characters(field: FieldPath, code_point: str) -> ValidationFailed:
    where = ".".join(map(str, field)) or "input"
    return ValidationFailed(
        INVALID_CHARACTERS,
        f"{where} contains the control or direction-override character {code_point}; remove it",
        field,
    )
