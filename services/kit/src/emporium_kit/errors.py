"""Domain errors that render as GraphQL errors with ``extensions: {code, kind, field}``.

Raise them from service functions and resolvers::

    raise NotFound("PRODUCT_NOT_FOUND", f"No product {product_id}", field=["id"])
    raise Conflict("SKU_TAKEN", "SKU already exists", field=["input", "sku"])

:func:`emporium_kit.graphql.format_error` renders them as
``{"message", "extensions": {"code", "kind", "field"}}``: ``code`` is the specific, stable
error id; ``kind`` is the class's category (``NOT_FOUND``, ``FORBIDDEN``...); ``field`` is
the input path (``["input", "listings", 0, "price"]``) or ``None``.
"""

# The error names are the API every service raises; they read as outcomes, not as "...Error".
# ruff: noqa: N818

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel

FieldPath = list[str | int]


class DomainError(Exception):
    """Base of all errors a client may see verbatim.

    ``DomainError(code, message, field=None, *, details=None)``: ``code`` is a stable
    SCREAMING_SNAKE id, ``message`` is safe to show, ``field`` the input path.
    """

    kind = "DOMAIN_ERROR"

    def __init__(
        self,
        code: str,
        message: str,
        field: Sequence[str | int] | None = None,
        *,
        details: list[ErrorDetail] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field: FieldPath | None = list(field) if field is not None else None
        self.details = details or []

    def extensions(self) -> dict[str, Any]:
        ext: dict[str, Any] = {"code": self.code, "kind": self.kind, "field": self.field}
        if self.details:
            ext["errors"] = [d.as_dict() for d in self.details]
        return ext


class ValidationFailed(DomainError):
    """Input was rejected; ``details`` lists every problem (``code`` + ``field`` each)."""

    kind = "VALIDATION_FAILED"


class NotFound(DomainError):
    kind = "NOT_FOUND"


class Conflict(DomainError):
    """Uniqueness or state conflict (duplicate SKU, stale version, illegal transition)."""

    kind = "CONFLICT"


class Forbidden(DomainError):
    kind = "FORBIDDEN"


class Unauthenticated(DomainError):
    kind = "UNAUTHENTICATED"


class Unavailable(DomainError):
    """A dependency is down (breaker open or timeout); the client may retry later."""

    kind = "UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    code: str
    message: str
    field: FieldPath

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "field": self.field}


def validation_details(
    error: ValidationError, *, prefix: Sequence[str | int] = ()
) -> list[ErrorDetail]:
    """Flatten a pydantic ``ValidationError`` into details with ``field`` paths.

    ``code`` is the pydantic error type upper-cased (``STRING_TOO_LONG``, ``GREATER_THAN``,
    ``MISSING``...); ``prefix`` is prepended to each location (e.g. ``["input"]``).
    """
    return [
        ErrorDetail(
            code=str(err["type"]).upper(),
            message=err["msg"],
            field=[*prefix, *(loc for loc in err["loc"] if isinstance(loc, str | int))],
        )
        for err in error.errors(include_url=False, include_input=False)
    ]


def validation_failed(
    error: ValidationError, *, prefix: Sequence[str | int] = ()
) -> ValidationFailed:
    """Build a :class:`ValidationFailed` from a pydantic error.

    ``code``/``field`` are the first problem's; ``details`` (rendered as
    ``extensions.errors``) lists all of them.
    """
    details = validation_details(error, prefix=prefix)
    first = details[0] if details else None
    message = f"{first.message} at {'.'.join(map(str, first.field))}" if first else "Invalid input"
    return ValidationFailed(
        first.code if first else "VALIDATION_FAILED",
        message,
        first.field if first else None,
        details=details,
    )


M = TypeVar("M", bound=BaseModel)


def parse_input(
    model: type[M], value: Any, *, at: Sequence[str | int] = (), code: str | None = None
) -> M:
    """Validate GraphQL input ``value`` (``None`` as ``{}``) with ``model``, for resolvers.

    On failure raises :class:`ValidationFailed` whose ``field`` paths are the camelCase input
    paths the client sent, under ``at`` (``["input", "postalCode"]``). The error's code is
    ``code`` when given, else the problem's own code when there is exactly one, else
    ``VALIDATION_FAILED``.
    """
    try:
        return model.model_validate(value if value is not None else {})
    except ValidationError as exc:
        details = [
            ErrorDetail(
                d.code, d.message, [to_camel(p) if isinstance(p, str) else p for p in d.field]
            )
            for d in validation_details(exc, prefix=at)
        ]
        first = details[0]
        where = ".".join(map(str, first.field)) or "input"
        raise ValidationFailed(
            code or (first.code if len(details) == 1 else "VALIDATION_FAILED"),
            f"{first.message} at {where}",
            first.field,
            details=details,
        ) from None
