"""Identity-specific errors on top of the kit's ``DomainError`` family."""

# The error names read as outcomes, like the kit's.
# ruff: noqa: N818

from __future__ import annotations

import math
from typing import Any

from emporium_kit.errors import DomainError, Unauthenticated


class TooManyRequests(DomainError):
    """A rate limit or a lockout refused the call; retry after ``retry_after_s`` seconds.

    Rendered with ``extensions.retryAfter`` (whole seconds); the HTTP response also carries
    ``Retry-After`` (see :mod:`emporium_identity.http`).
    """

    kind = "RATE_LIMITED"

    def __init__(self, code: str, message: str, *, retry_after_s: float) -> None:
        super().__init__(code, message)
        self.retry_after = max(1, math.ceil(retry_after_s))

    def extensions(self) -> dict[str, Any]:
        return {**super().extensions(), "retryAfter": self.retry_after}


def invalid_credentials() -> Unauthenticated:
    """The one answer to every failed login: it never says which part was wrong."""
    return Unauthenticated("INVALID_CREDENTIALS", "The email or password is incorrect")


def invalid_refresh_token() -> Unauthenticated:
    return Unauthenticated("INVALID_REFRESH_TOKEN", "Sign in again")
