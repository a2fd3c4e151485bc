"""Test helpers shared by every service's tests.

``TokenMinter`` plays identity: it owns a signing key pair, publishes the public half as a
JWKS and mints access tokens the kit's :class:`~emporium_kit.auth.TokenVerifier` accepts::

    minter = TokenMinter()
    token = minter.mint("user-1", ["seller"], seller_id="s-1")
    headers = {"Authorization": f"Bearer {token}"}
    settings = CatalogSettings(jwt_public_key=minter.public_key_pem())  # or serve minter.jwks()

``JwksServer`` publishes minters' keys over HTTP as identity's JWKS endpoint does, for
processes that fetch them (the gateway, a subgraph started by the test harness)::

    with JwksServer(minter) as jwks:
        stack = stacks("gateway", jwks_url=jwks.url)

``serving`` runs a service's app for a test module or session, lifespan included, and drops
its test database afterwards; ``graphql_poster`` posts documents to it over ASGI::

    async with serving(create_app(settings), settings) as app:
        async with graphql_poster(app, token=minter.mint("u-1", ["customer"])) as gql:
            body = await gql("{ myOrders(first: 5) { id } }")

``assert_schemas_committed`` pins a service's event contracts: the JSON schemas its event
catalog generates must be the ones committed under its ``contracts/``.

``BlackHole`` plays a dependency that hangs: it accepts connections and never answers, so a
client's timeout is what ends the call::

    with BlackHole() as hole:
        gateway_process(env={"EMPORIUM_SUBGRAPH_IDENTITY_URL": f"{hole.url}/graphql", ...})
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, Key, KeySet, OKPKey, RSAKey
from pymongo import AsyncMongoClient

from emporium_kit.auth import TokenVerifier
from emporium_kit.events.envelope import EventCatalog
from emporium_kit.settings import ServiceSettings

# Asymmetric keys only: the minter publishes its public half as a JWKS and a PEM.
SigningKey = ECKey | RSAKey | OKPKey
_KEY_FACTORIES: dict[str, Callable[[], SigningKey]] = {
    "ES256": lambda: ECKey.generate_key("P-256", {"alg": "ES256", "use": "sig"}, auto_kid=True),
    "RS256": lambda: RSAKey.generate_key(2048, {"alg": "RS256", "use": "sig"}, auto_kid=True),
    "Ed25519": lambda: OKPKey.generate_key(
        "Ed25519", {"alg": "Ed25519", "use": "sig"}, auto_kid=True
    ),
}


class TokenMinter:
    """``TokenMinter(*, issuer="emporium-identity", audience="emporium", alg="ES256")``."""

    def __init__(
        self,
        *,
        issuer: str = "emporium-identity",
        audience: str = "emporium",
        alg: str = "ES256",
    ) -> None:
        if alg not in _KEY_FACTORIES:
            raise ValueError(f"alg must be one of {sorted(_KEY_FACTORIES)}")
        self.issuer = issuer
        self.audience = audience
        self.alg = alg
        self._published: list[SigningKey] = []
        self.key: SigningKey = self.rotate()

    @property
    def kid(self) -> str:
        return str(self.key.kid)

    def rotate(self) -> SigningKey:
        """Sign with a fresh key from now on; earlier keys stay published in :meth:`jwks`."""
        self.key = _KEY_FACTORIES[self.alg]()
        self._published.append(self.key)
        return self.key

    def jwks(self) -> dict[str, Any]:
        """The public JWKS document (``{"keys": [...]}``) of every key minted with."""
        return dict(KeySet(list(self._published)).as_dict(private=False))

    def public_key_pem(self) -> str:
        """PEM of the current public key (for ``EMPORIUM_JWT_PUBLIC_KEY``)."""
        return self.key.as_pem(private=False).decode()

    def verifier(self, **kwargs: Any) -> TokenVerifier:
        """A verifier trusting this minter's published keys (no HTTP)."""
        return TokenVerifier(issuer=self.issuer, audience=self.audience, jwks=self.jwks(), **kwargs)

    def mint(
        self,
        sub: str,
        roles: Iterable[str] = ("customer",),
        *,
        seller_id: str | None = None,
        scopes: Iterable[str] = (),
        ttl: timedelta | float = timedelta(minutes=5),
        claims: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
        key: Key | None = None,
    ) -> str:
        """A signed access token. ``claims`` overrides/extends the standard claims (set
        ``exp`` in the past, a wrong ``aud``...); ``header`` extends the JWS header."""
        now = int(time.time())
        ttl_s = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "iat": now,
            "nbf": now,
            "exp": now + int(ttl_s),
            "jti": uuid.uuid4().hex,
            "roles": list(roles),
        }
        if seller_id is not None:
            payload["seller_id"] = seller_id
        if scopes:
            payload["scope"] = " ".join(scopes)
        payload.update(claims or {})
        signing_key = key or self.key
        jws_header = {"alg": self.alg, "kid": signing_key.kid, "typ": "JWT", **(header or {})}
        return jwt.encode(jws_header, payload, signing_key, algorithms=[jws_header["alg"]])


class _JwksHTTPServer(ThreadingHTTPServer):
    def __init__(self, owner: JwksServer) -> None:
        super().__init__(("127.0.0.1", 0), _JwksHandler)
        self.owner = owner


class _JwksHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if not isinstance(self.server, _JwksHTTPServer):
            raise TypeError("_JwksHandler serves a JwksServer only")
        owner = self.server.owner
        owner.requests += 1
        if not owner.available:
            self.send_error(503)
            return
        body = json.dumps(owner.document()).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class JwksServer:
    """An HTTP server on a free loopback port publishing the current keys of every minter
    (rotations included) as one JWKS, but the ``withdrawn`` kids; it answers 503 while
    ``available`` is false, and ``requests`` counts the fetches."""

    def __init__(self, *minters: TokenMinter) -> None:
        self.minters = minters
        self.requests = 0
        self.available = True
        self.withdrawn: set[str] = set()
        self._httpd = _JwksHTTPServer(self)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}/.well-known/jwks.json"

    def document(self) -> dict[str, Any]:
        keys = [key for minter in self.minters for key in minter.jwks()["keys"]]
        return {"keys": [key for key in keys if key["kid"] not in self.withdrawn]}

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> JwksServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class BlackHole:
    """A TCP server on a free loopback port that accepts connections and never answers."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:  # closed
                return
            self._connections.append(connection)

    def close(self) -> None:
        self._server.close()
        for connection in self._connections:
            connection.close()

    def __enter__(self) -> BlackHole:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@asynccontextmanager
async def serving(
    application: FastAPI, settings: ServiceSettings, *, shutdown_timeout_s: float = 30
) -> AsyncIterator[FastAPI]:
    """``application`` with its lifespan running, once its outbox relay is ready (the relay
    ensures the streams in the background, and tests tap them); afterwards the settings' Mongo
    database is dropped. A loaded machine can take seconds to finish a relay pass on FerretDB
    at shutdown, hence the generous timeouts."""
    async with LifespanManager(
        application, startup_timeout=60, shutdown_timeout=shutdown_timeout_s
    ):
        outbox = getattr(application.state, "outbox", None)
        if outbox is not None:
            await asyncio.wait_for(outbox.ready.wait(), timeout=60)
        yield application
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    try:
        await client.drop_database(str(settings.mongo_database))
    finally:
        await client.close()


GraphQLPost = Callable[..., Awaitable[dict[str, Any]]]


@asynccontextmanager
async def graphql_poster(app: FastAPI, *, token: str | None = None) -> AsyncIterator[GraphQLPost]:
    """``post(query, variables=None, token=<token>)``: the JSON body of a ``/graphql`` POST to
    ``app`` over ASGI, bearing ``token`` unless the call passes another one (or ``None``)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:

        async def post(
            query: str, variables: dict[str, Any] | None = None, token: str | None = token
        ) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
            assert response.status_code in (200, 400), response.text
            body: dict[str, Any] = response.json()
            return body

        yield post


def assert_schemas_committed(catalog: EventCatalog, contracts: Path, scratch: Path) -> None:
    """The schemas ``catalog`` writes (into ``scratch``) are the files committed under
    ``contracts``, byte for byte: a payload change shows up here, and for anything but a new
    optional field it is published as a new version (docs/events.md, "Versioning")."""
    regenerate = f"uv run emporium-{catalog.service} event-schemas {contracts}"
    written = catalog.write_json_schemas(scratch)
    generated = {str(path.relative_to(scratch)): path.read_bytes() for path in sorted(written)}
    committed = {
        str(path.relative_to(contracts)): path.read_bytes() for path in contracts.rglob("*.json")
    }
    assert generated.keys() == committed.keys(), f"run `{regenerate}`"
    for name, schema in generated.items():
        assert schema == committed[name], f"{name} changed: run `{regenerate}`"
