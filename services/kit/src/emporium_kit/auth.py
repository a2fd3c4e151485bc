"""Access-token verification (joserfc) and role checks usable from resolvers.

Tokens are asymmetric JWS JWTs issued by identity. :class:`TokenVerifier` accepts only
``RS256``, ``ES256``, ``EdDSA`` and ``Ed25519`` (``alg: none`` and every ``HS*`` are refused
before any key is touched, so an HMAC "signed" with the public key cannot pass), and checks
the signature, ``exp``/``nbf``/``iat`` (with leeway), ``iss``, ``aud`` and ``sub``.

Keys come from ``settings.jwks_url`` (cached; an unknown ``kid`` refetches the set at most
once per ``jwks_refetch_min_interval_s``; the set is also refreshed when older than
``jwks_max_age_s``) or from the PEM in ``settings.jwt_public_key``.

Claims used: ``sub``, ``roles`` (list of ``customer``/``seller``/``admin``), ``seller_id``,
``scope`` (space separated) or ``scp`` (list).

In resolvers (the app factory verifies the ``Authorization: Bearer`` header once per
request and stores the outcome in the GraphQL context)::

    principal = principal_from(info)            # Principal | None; bad token -> Unauthenticated
    principal = require_roles(info, "seller", "admin")   # any of them, else Forbidden
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    JoseError,
)
from joserfc.jwk import JWKRegistry, Key, KeySet

from emporium_kit.errors import Forbidden, Unauthenticated
from emporium_kit.settings import ServiceSettings

log = logging.getLogger(__name__)

ROLES = frozenset({"customer", "seller", "admin"})
# alg -> the only key type that may verify it (blocks alg/key confusion)
ALLOWED_ALGORITHMS = {"RS256": "RSA", "ES256": "EC", "EdDSA": "OKP", "Ed25519": "OKP"}
MAX_TOKEN_CHARS = 8192

PRINCIPAL_KEY = "principal"
AUTH_ERROR_KEY = "auth_error"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    subject: str
    roles: frozenset[str]
    seller_id: str | None = None
    scopes: frozenset[str] = frozenset()
    token_id: str | None = None

    def has_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def _reject(code: str, message: str = "Invalid access token") -> Unauthenticated:
    return Unauthenticated(code, message)


class TokenVerifier:
    """Verifies bearer tokens; one per process (it caches the JWKS).

    ``TokenVerifier(*, issuer, audience, jwks_url=None, public_key_pem=None, jwks=None,
    http=None, leeway_s=30, refetch_min_interval_s=30.0, jwks_max_age_s=300.0,
    timeout_s=5.0)``: exactly one key source of ``jwks_url``, ``public_key_pem`` or a
    static ``jwks`` dict (tests).
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        public_key_pem: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        http: httpx.AsyncClient | None = None,
        leeway_s: int = 30,
        refetch_min_interval_s: float = 30.0,
        jwks_max_age_s: float = 300.0,
        timeout_s: float = 5.0,
    ) -> None:
        sources = [s for s in (jwks_url, public_key_pem, jwks) if s]
        if len(sources) != 1:
            raise ValueError("configure exactly one of jwks_url, public_key_pem, jwks")
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.leeway_s = leeway_s
        self.refetch_min_interval_s = refetch_min_interval_s
        self.jwks_max_age_s = jwks_max_age_s
        self._pem_key: Key | None = None
        self._keys: KeySet | None = None
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self._owns_http = http is None and jwks_url is not None
        self._http = http or (httpx.AsyncClient(timeout=timeout_s) if jwks_url else None)
        if public_key_pem:
            key = JWKRegistry.import_key(public_key_pem.encode(), _pem_key_type(public_key_pem))
            if key.is_private:
                raise ValueError("jwt_public_key must be a public key")
            self._pem_key = key
        elif jwks:
            self._keys = KeySet.import_key_set({"keys": jwks["keys"]})

    @classmethod
    def from_settings(
        cls, settings: ServiceSettings, *, http: httpx.AsyncClient | None = None
    ) -> TokenVerifier | None:
        """A verifier for the configured key source, or ``None`` when none is configured."""
        if not (settings.jwks_url or settings.jwt_public_key):
            return None
        return cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            jwks_url=settings.jwks_url,
            public_key_pem=None if settings.jwks_url else settings.jwt_public_key,
            http=http,
            leeway_s=settings.jwt_leeway_s,
            refetch_min_interval_s=settings.jwks_refetch_min_interval_s,
            timeout_s=settings.http_timeout_s,
        )

    async def start(self) -> None:
        """Prefetch the JWKS; a failure is logged, not raised (retried on first use)."""
        if self.jwks_url:
            try:
                await self._refresh(force=True)
            except (httpx.HTTPError, JoseError, ValueError) as exc:
                log.warning("jwks prefetch failed", extra={"error": type(exc).__name__})

    async def close(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()

    async def verify(self, token: str) -> Principal:
        """Verify ``token`` and return its principal; raises :class:`Unauthenticated`."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise _reject("TOKEN_MALFORMED")
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError, TypeError) as exc:
            raise _reject("TOKEN_MALFORMED") from exc
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise _reject("TOKEN_ALGORITHM_REJECTED")
        key = await self._key_for(header.get("kid"))
        if key.key_type != ALLOWED_ALGORITHMS[alg] or (key.alg and key.alg != alg):
            raise _reject("TOKEN_ALGORITHM_REJECTED")
        try:
            decoded = jwt.decode(token, key, algorithms=[alg])
        except BadSignatureError as exc:
            raise _reject("TOKEN_BAD_SIGNATURE") from exc
        except (JoseError, ValueError, TypeError) as exc:
            raise _reject("TOKEN_MALFORMED") from exc
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            leeway=self.leeway_s,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            sub={"essential": True},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise _reject("TOKEN_EXPIRED", "Access token expired") from exc
        except JoseError as exc:
            raise _reject("TOKEN_INVALID_CLAIMS") from exc
        return _principal(claims)

    async def _key_for(self, kid: Any) -> Key:
        if self._pem_key is not None:
            return self._pem_key
        if kid is not None and not isinstance(kid, str):
            raise _reject("TOKEN_MALFORMED")
        if self.jwks_url and self._stale():
            await self._refresh_quietly()
        key = self._lookup(kid)
        if key is None and self.jwks_url and self._may_refetch():
            await self._refresh_quietly()
            key = self._lookup(kid)
        if key is None:
            raise _reject("TOKEN_UNKNOWN_KEY")
        return key

    def _lookup(self, kid: str | None) -> Key | None:
        if self._keys is None:
            return None
        try:
            return self._keys.get_by_kid(kid)
        except JoseError:
            return None

    def _stale(self) -> bool:
        return self._fetched_at is None or (
            time.monotonic() - self._fetched_at > self.jwks_max_age_s
        )

    def _may_refetch(self) -> bool:
        return self._fetched_at is None or (
            time.monotonic() - self._fetched_at >= self.refetch_min_interval_s
        )

    async def _refresh_quietly(self) -> None:
        try:
            await self._refresh()
        except (httpx.HTTPError, JoseError, ValueError) as exc:
            # keep serving with the keys we have; the next stale check retries
            log.warning("jwks refresh failed", extra={"error": type(exc).__name__})

    async def _refresh(self, *, force: bool = False) -> None:
        if self._http is None or self.jwks_url is None:
            raise RuntimeError("no JWKS URL configured")
        fetched_before = self._fetched_at
        async with self._lock:
            # another task refreshed while this one waited for the lock
            if not force and self._fetched_at != fetched_before:
                return
            # the attempt counts against the rate limit even when it fails
            self._fetched_at = time.monotonic()
            response = await self._http.get(self.jwks_url)
            response.raise_for_status()
            self._keys = KeySet.import_key_set(response.json())


def _pem_key_type(pem: str) -> str:
    """Key type of a PEM public key: RSA, EC or OKP (Ed25519)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    public = load_pem_public_key(pem.encode())
    if isinstance(public, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(public, ec.EllipticCurvePublicKey):
        return "EC"
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "OKP"
    raise ValueError(f"unsupported public key type {type(public).__name__}")


def _principal(claims: Mapping[str, Any]) -> Principal:
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise _reject("TOKEN_INVALID_CLAIMS")
    scope = claims.get("scope")
    scopes: list[str]
    if isinstance(scope, str):
        scopes = scope.split()
    else:
        scp = claims.get("scp") or []
        scopes = [s for s in scp if isinstance(s, str)] if isinstance(scp, list) else []
    seller_id = claims.get("seller_id")
    jti = claims.get("jti")
    return Principal(
        subject=str(claims["sub"]),
        roles=frozenset(roles) & ROLES,
        seller_id=seller_id if isinstance(seller_id, str) else None,
        scopes=frozenset(scopes),
        token_id=jti if isinstance(jti, str) else None,
    )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, else ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(
    verifier: TokenVerifier | None, authorization: str | None
) -> tuple[Principal | None, Unauthenticated | None]:
    """Verify a request's ``Authorization`` header: ``(principal, None)``, ``(None, None)``
    when there is no bearer token, or ``(None, error)`` when the token is bad."""
    if authorization is not None and bearer_token(authorization) is None:
        return None, _reject("TOKEN_MALFORMED", "Authorization must be 'Bearer <token>'")
    token = bearer_token(authorization)
    if token is None:
        return None, None
    if verifier is None:
        return None, _reject("AUTH_NOT_CONFIGURED", "This service does not accept tokens")
    try:
        return await verifier.verify(token), None
    except Unauthenticated as exc:
        return None, exc


def _context(info: Any) -> Mapping[str, Any]:
    context = getattr(info, "context", info)
    if not isinstance(context, Mapping):
        raise TypeError("GraphQL context must be a mapping")
    return context


def principal_from(info: Any) -> Principal | None:
    """The caller of this GraphQL request (``info`` or the context dict itself).

    ``None`` without a bearer token; raises :class:`Unauthenticated` when the request
    carried a token that did not verify.
    """
    context = _context(info)
    error = context.get(AUTH_ERROR_KEY)
    if error is not None:
        raise error
    return context.get(PRINCIPAL_KEY)


def require_principal(info: Any) -> Principal:
    """The caller, or :class:`Unauthenticated` (``AUTHENTICATION_REQUIRED``)."""
    principal = principal_from(info)
    if principal is None:
        raise Unauthenticated("AUTHENTICATION_REQUIRED", "Sign in to do this")
    return principal


def require_roles(info: Any, *roles: str) -> Principal:
    """The caller if it holds any of ``roles`` (all callers if none are given).

    Raises :class:`Unauthenticated` without a valid token and :class:`Forbidden`
    (``MISSING_ROLE``) when the caller lacks every role named.
    """
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    principal = require_principal(info)
    if roles and not principal.has_role(*roles):
        raise Forbidden("MISSING_ROLE", f"Requires one of the roles: {', '.join(roles)}")
    return principal
