"""A small OpenID Connect provider for the tests, speaking the real protocol over real HTTP.

It stands in for Google & co. at a third-party boundary: discovery document, JWKS,
authorization endpoint (code flow; PKCE S256 required; consent is automatic for the person
the test chose with :meth:`LocalOidcProvider.sign_in_as`) and token endpoint (client
authentication, single-use codes, redirect-URI and PKCE checks, an RS256-signed ID token
with ``nonce`` and ``at_hash``). Run it with :meth:`LocalOidcProvider.start` on a free
loopback port.

Knobs for attack tests: ``id_token_nonce`` replaces the nonce the client sent.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

import uvicorn
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass
class Person:
    subject: str
    email: str | None
    email_verified: bool = True
    name: str | None = None


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    scope: str
    person: Person


@dataclass
class LocalOidcProvider:
    client_id: str = "emporium-test"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    redirect_uris: set[str] = field(default_factory=set)
    person: Person | None = None
    id_token_nonce: str | None = None
    token_requests: int = 0
    issuer: str = ""
    _codes: dict[str, _Grant] = field(default_factory=dict)
    _key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(
            2048, {"alg": "RS256", "use": "sig"}, auto_kid=True
        )
    )
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    # ------------------------------------------------------------------------- control

    def sign_in_as(self, person: Person) -> None:
        """The next authorization is granted for ``person`` (automatic consent)."""
        self.person = person

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self.issuer = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(self.app(), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[sock])),  # type: ignore[union-attr]
            name="local-oidc-provider",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the local OIDC provider did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    # ----------------------------------------------------------------------- protocol

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )

    async def discovery(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "scopes_supported": ["openid", "email", "profile"],
            }
        )

    async def jwks(self, _request: Request) -> Response:
        return JSONResponse(KeySet([self._key]).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.client_id:
            return JSONResponse({"error": "unauthorized_client"}, status_code=400)
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            # never redirect to an unregistered URI (RFC 6749 §4.1.2.1)
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        error = None
        if q.get("response_type") != "code" or "openid" not in q.get("scope", "").split():
            error = "invalid_request"
        elif q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            error = "invalid_request"  # PKCE is mandatory here
        elif self.person is None:
            error = "access_denied"
        if error:
            return _redirect(redirect_uri, error=error, state=q.get("state"))
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Grant(
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            code_challenge=q["code_challenge"],
            nonce=q.get("nonce"),
            scope=q.get("scope", ""),
            person=self.person,  # type: ignore[arg-type]
        )
        return _redirect(redirect_uri, code=code, state=q.get("state"))

    async def token(self, request: Request) -> Response:
        self.token_requests += 1
        # application/x-www-form-urlencoded, as RFC 6749 §4.1.3 requires
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        client_id, client_secret = _client_credentials(request, form)
        if client_id != self.client_id or client_secret != self.client_secret:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        grant = self._codes.pop(str(form.get("code", "")), None)  # single use
        if grant is None or grant.redirect_uri != form.get("redirect_uri"):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = str(form.get("code_verifier", ""))
        if not verifier or create_s256_code_challenge(verifier) != grant.code_challenge:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        access_token = secrets.token_urlsafe(24)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": grant.person.subject,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "at_hash": create_half_hash(access_token, "RS256").decode(),
            "email_verified": grant.person.email_verified,
        }
        nonce = self.id_token_nonce or grant.nonce
        if nonce:
            claims["nonce"] = nonce
        if grant.person.email:
            claims["email"] = grant.person.email
        if grant.person.name:
            claims["name"] = grant.person.name
        id_token = jwt.encode({"alg": "RS256", "kid": self._key.kid}, claims, self._key)
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": grant.scope,
                "id_token": id_token,
            },
            headers={"Cache-Control": "no-store"},
        )


def _redirect(uri: str, **params: str | None) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return RedirectResponse(f"{uri}?{query}", status_code=302)


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        raw = base64.b64decode(header[6:]).decode()
        client_id, _, secret = raw.partition(":")
        return unquote(client_id), unquote(secret)  # RFC 6749 §2.3.1 form-encodes both
    return form.get("client_id"), form.get("client_secret")
