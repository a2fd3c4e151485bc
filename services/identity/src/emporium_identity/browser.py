"""Browser sessions: the refresh token lives in an HttpOnly cookie, never in page script.

A web client keeps only the short-lived access token, in memory. Its refresh token is held
by the browser in a cookie that script cannot read and that is sent to these routes only:

- ``POST /auth/session`` with ``{"refreshToken"}`` (the pair ``login``/``register`` just
  returned through the gateway): rotates that token at once, so the one page script saw is
  already spent, and sets the cookie with its successor;
- ``POST /auth/session/refresh``: rotates the cookie's token (a new cookie) and returns a new
  access token: the silent refresh, also how a reloaded page finds its session;
- ``POST /auth/session/logout``: ends the cookie's session and clears the cookie.

The answers are JSON ``{accessToken, expiresIn, tokenType, user}`` (no refresh token), or
``{"error": {message, code, kind, field}}``.

The cookie is ``HttpOnly``, ``SameSite=Strict``, ``Path=/auth/session`` (it never travels
with GraphQL or any other request) and ``Secure`` in production. Every route requires the
``X-Emporium-CSRF: 1`` header: a cross-site form or a simple request cannot carry a custom
header, and a cross-origin script needs a CORS preflight for it, which only the origins in
``EMPORIUM_IDENTITY_SESSION_ORIGINS`` pass (:class:`SessionCors`).
"""

from __future__ import annotations

from typing import Any

from emporium_kit.errors import DomainError, Forbidden, Unauthenticated
from emporium_kit.responses import OrjsonResponse
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from emporium_identity import sessions
from emporium_identity.core import AuthResult, Identity
from emporium_identity.errors import invalid_refresh_token
from emporium_identity.http import auth_payload, client_info, error_response

SESSION_PATH = "/auth/session"
COOKIE_NAME = "emporium_refresh"
CSRF_HEADER = "X-Emporium-CSRF"
# Refresh tokens are 43 characters (token_urlsafe(32)); anything far longer is not one.
MAX_TOKEN_LENGTH = 256


class AdoptInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refreshToken: str = Field(min_length=1, max_length=MAX_TOKEN_LENGTH)  # noqa: N815


class SessionCookie:
    """How the refresh cookie is written and cleared."""

    def __init__(self, *, secure: bool, max_age_s: int) -> None:
        self.secure = secure
        self.max_age_s = max_age_s

    def set(self, response: Response, refresh_token: str) -> None:
        response.set_cookie(
            COOKIE_NAME,
            refresh_token,
            max_age=self.max_age_s,
            path=SESSION_PATH,
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(
            COOKIE_NAME,
            path=SESSION_PATH,
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )


def session_payload(result: AuthResult) -> dict[str, Any]:
    """The token answer without the refresh token (that one goes into the cookie)."""
    payload = auth_payload(result)
    del payload["refreshToken"]
    return payload


def session_router(identity: Identity, cookie: SessionCookie) -> APIRouter:
    router = APIRouter(prefix=SESSION_PATH, tags=["browser session"])

    def require_csrf_header(request: Request) -> None:
        if request.headers.get(CSRF_HEADER) != "1":
            raise Forbidden("CSRF_HEADER_REQUIRED", f"Send the {CSRF_HEADER}: 1 header")

    def signed_in(result: AuthResult) -> Response:
        response = OrjsonResponse(session_payload(result), headers={"Cache-Control": "no-store"})
        cookie.set(response, result.refresh_token)
        return response

    def refused(error: DomainError) -> Response:
        response = error_response(error)
        if isinstance(error, Unauthenticated):
            # the cookie's token is spent, unknown or revoked: keep no dead cookie around
            cookie.clear(response)
        return response

    @router.post("", summary="Move a refresh token into the session cookie")
    async def adopt(request: Request) -> Response:
        """Rotates the given refresh token and sets the cookie with its successor."""
        try:
            require_csrf_header(request)
            try:
                body = AdoptInput.model_validate_json(await request.body())
            except ValidationError:
                raise invalid_refresh_token() from None
            result = await sessions.refresh(
                identity=identity, refresh_token=body.refreshToken, client=client_info(request)
            )
        except DomainError as error:
            return refused(error)
        return signed_in(result)

    @router.post("/refresh", summary="A new access token for the session cookie")
    async def refresh(request: Request) -> Response:
        """Rotates the cookie's refresh token: a new cookie and a new access token."""
        try:
            require_csrf_header(request)
            token = request.cookies.get(COOKIE_NAME)
            if not token or len(token) > MAX_TOKEN_LENGTH:
                raise Unauthenticated("NO_SESSION", "Not signed in")
            result = await sessions.refresh(
                identity=identity, refresh_token=token, client=client_info(request)
            )
        except DomainError as error:
            return refused(error)
        return signed_in(result)

    @router.post("/logout", status_code=204, summary="End the cookie's session")
    async def logout(request: Request) -> Response:
        """Ends the session and clears the cookie; succeeds without a session too."""
        try:
            require_csrf_header(request)
        except DomainError as error:
            return refused(error)
        token = request.cookies.get(COOKIE_NAME)
        if token and len(token) <= MAX_TOKEN_LENGTH:
            await sessions.logout(db=identity.db, refresh_token=token)
        response = Response(status_code=204, headers={"Cache-Control": "no-store"})
        cookie.clear(response)
        return response

    return router


# What a shop on another origin calls from script: the session routes and the provider list.
CORS_PATHS = (SESSION_PATH, "/oauth/providers")


class SessionCors:
    """CORS for the paths a web shop calls from script (:data:`CORS_PATHS`): the allowed
    shop origins may call them with credentials (the cookie) and the CSRF header. Every other
    path of identity stays same-origin."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_credentials=True,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", CSRF_HEADER.lower()],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if any(path == prefix or path.startswith(prefix + "/") for prefix in CORS_PATHS):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
