"""The REST side of identity (where HTTP is the contract) and HTTP-level helpers.

- ``GET /.well-known/jwks.json``: the public signing keys (RFC 7517), what the gateway and
  every subgraph's ``TokenVerifier`` fetch (``EMPORIUM_JWKS_URL``).
- :class:`RetryAfterMiddleware`: a resolver refused by a rate limit records the wait in the
  request's :class:`ResponseHints`; the middleware adds ``Retry-After`` to the HTTP response
  (the GraphQL error carries ``extensions.retryAfter`` as well).
- JSON error and token responses for the OAuth routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emporium_kit.errors import DomainError
from emporium_kit.responses import OrjsonResponse
from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emporium_identity.core import AuthResult
from emporium_identity.errors import TooManyRequests
from emporium_identity.keys import KeyRing
from emporium_identity.tokens import ClientInfo

HINTS_KEY = "emporium.identity.hints"
JWKS_PATH = "/.well-known/jwks.json"

STATUS_BY_KIND = {
    "VALIDATION_FAILED": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "RATE_LIMITED": 429,
    "UNAVAILABLE": 503,
}


@dataclass
class ResponseHints:
    """Per-request notes from resolvers to the HTTP response."""

    retry_after: int | None = None

    def note(self, error: TooManyRequests) -> None:
        self.retry_after = max(self.retry_after or 0, error.retry_after)


def hints_of(request: Request) -> ResponseHints | None:
    hints = request.scope.get(HINTS_KEY)
    return hints if isinstance(hints, ResponseHints) else None


class RetryAfterMiddleware:
    """Pure ASGI middleware (streams untouched): adds ``Retry-After`` when a hint asks."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hints = ResponseHints()
        scope[HINTS_KEY] = hints

        async def send_with_hints(message: Message) -> None:
            if message["type"] == "http.response.start" and hints.retry_after is not None:
                headers = [
                    *message.get("headers", ()),
                    (b"retry-after", str(hints.retry_after).encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_hints)


def client_info(request: Request) -> ClientInfo:
    """The caller's address (uvicorn applies X-Forwarded-For from trusted proxies) and
    user agent."""
    return ClientInfo(
        address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


def error_response(error: DomainError) -> Response:
    headers = {"Cache-Control": "no-store"}
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(error.retry_after)
    return OrjsonResponse(
        {"error": {"message": error.message, **error.extensions()}},
        status_code=STATUS_BY_KIND.get(error.kind, 400),
        headers=headers,
    )


def auth_payload(result: AuthResult) -> dict[str, Any]:
    return {
        "accessToken": result.access_token,
        "refreshToken": result.refresh_token,
        "expiresIn": result.expires_in,
        "tokenType": result.token_type,
        "user": {
            "id": result.user.id,
            "email": result.user.email,
            "emailVerified": result.user.email_verified,
            "roles": [r.upper() for r in result.user.roles],
        },
    }


def token_response(result: AuthResult) -> Response:
    return OrjsonResponse(auth_payload(result), headers={"Cache-Control": "no-store"})


def jwks_router(keys: KeyRing, *, max_age_s: int) -> APIRouter:
    router = APIRouter(tags=["keys"])

    @router.get(JWKS_PATH, summary="Public keys that verify access tokens (JWKS)")
    async def jwks() -> Response:
        """Every published key: the signing one, the next one (published before it signs)
        and retired ones whose tokens may still be alive."""
        await keys.refresh_if_stale()
        return OrjsonResponse(
            keys.jwks(),
            headers={"Cache-Control": f"public, max-age={max_age_s}"},
        )

    return router
