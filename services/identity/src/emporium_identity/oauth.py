"""OpenID Connect sign-in (authorization code + PKCE) with authlib.

``GET /oauth/{provider}/login`` stores ``state``, ``nonce`` and the PKCE ``code_verifier`` in
Redis under the state (single use, ``identity_oauth_state_ttl_s``) and redirects to the
provider. ``GET /oauth/{provider}/callback?code&state`` takes the state back out (GETDEL: a
replayed callback finds nothing), exchanges the code with the verifier, verifies the ID token
against the provider's JWKS (signature, ``iss``, ``aud``, ``exp``, ``azp``, ``at_hash`` and the
``nonce`` sent), and signs the person in (:func:`linking.login_with_provider`). The answer is
JSON with the token pair: HTTP is the contract here, so these are REST routes.

A web shop passes ``return_to`` (a URL on one of ``EMPORIUM_IDENTITY_SESSION_ORIGINS``) to the
login route instead: the callback then puts the refresh token into the browser-session cookie
(:mod:`emporium_identity.browser`) and redirects there (303), with ``signin_error=<code>``
added to the URL when the sign-in failed; no token ever reaches page script. ``GET
/oauth/providers`` names the configured providers.

Provider metadata (discovery) and JWKS are cached per process; an ID token signed with an
unknown ``kid`` refetches the JWKS once. Each provider is a non-critical dependency with its
own breaker: a provider outage fails its logins, not the service's readiness.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

import httpx
import orjson
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oidc.core import CodeIDToken
from emporium_kit.clients import RedisStore
from emporium_kit.errors import DomainError, Forbidden, NotFound, Unauthenticated, Unavailable
from emporium_kit.resilience import Dependency
from emporium_kit.responses import OrjsonResponse
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from starlette.datastructures import URL
from starlette.responses import Response

from emporium_identity.browser import SessionCookie
from emporium_identity.core import AuthResult, Identity
from emporium_identity.http import client_info, error_response, token_response
from emporium_identity.linking import ExternalIdentity, login_with_provider
from emporium_identity.settings import IdentitySettings, OAuthProvider

log = logging.getLogger(__name__)

# Only asymmetric algorithms: a provider's client secret never verifies an ID token here.
ID_TOKEN_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"})
METADATA_MAX_AGE_S = 3600.0
MAX_RETURN_TO_LENGTH = 2000


def _failed(code: str, message: str = "Sign-in with this provider failed") -> Unauthenticated:
    return Unauthenticated(code, message)


class OidcProvider:
    """One configured provider: metadata, JWKS, authorization URL, code exchange."""

    def __init__(
        self,
        name: str,
        config: OAuthProvider,
        *,
        redirect_uri: str,
        timeout_s: float,
        leeway_s: int,
        breaker_fail_max: int = 5,
        breaker_reset_timeout_s: float = 30.0,
    ) -> None:
        self.name = name
        self.config = config
        self.redirect_uri = redirect_uri
        self.timeout_s = timeout_s
        self.leeway_s = leeway_s
        self.dependency = Dependency(
            f"oauth-{name}",
            timeout_s=timeout_s * 2,
            critical=False,
            fail_max=breaker_fail_max,
            reset_timeout_s=breaker_reset_timeout_s,
        )
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None

    def _client(self) -> AsyncOAuth2Client:
        secret = self.config.client_secret
        return AsyncOAuth2Client(
            client_id=self.config.client_id,
            client_secret=secret.get_secret_value() if secret else None,
            scope=self.config.scope,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=self.timeout_s,
        )

    async def metadata(self) -> dict[str, Any]:
        fresh = time.monotonic() - self._metadata_at < METADATA_MAX_AGE_S
        if self._metadata is not None and fresh:
            return self._metadata
        async with self.dependency.guard(), httpx.AsyncClient(timeout=self.timeout_s) as http:
            response = await http.get(self.config.metadata_url)
            response.raise_for_status()
            metadata: dict[str, Any] = response.json()
        if metadata.get("issuer") != self.config.issuer:
            # OIDC Discovery §4.3: the document must be for the issuer we trust
            raise _failed("OAUTH_PROVIDER_MISCONFIGURED", "The provider's issuer does not match")
        for required in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(metadata.get(required), str):
                raise _failed("OAUTH_PROVIDER_MISCONFIGURED", f"The provider lacks {required}")
        self._metadata, self._metadata_at = metadata, time.monotonic()
        return metadata

    async def key_set(self, *, force: bool = False) -> KeySet:
        if self._keys is not None and not force:
            return self._keys
        metadata = await self.metadata()
        async with self.dependency.guard(), httpx.AsyncClient(timeout=self.timeout_s) as http:
            response = await http.get(metadata["jwks_uri"])
            response.raise_for_status()
            self._keys = KeySet.import_key_set(response.json())
        return self._keys

    async def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        metadata = await self.metadata()
        url: str
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=state,
                code_verifier=code_verifier,
                nonce=nonce,
            )
        return url

    async def exchange(self, *, code: str, code_verifier: str) -> dict[str, Any]:
        """The token endpoint's answer for ``code`` (with the PKCE verifier)."""
        metadata = await self.metadata()
        refused: OAuthError | None = None
        async with self.dependency.guard(), self._client() as client:
            try:
                token = await client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
            except OAuthError as exc:
                # the provider answered (a refused code is not an outage): not a breaker failure
                refused = exc
        if refused is not None:
            log.info(
                "oauth code exchange refused", extra={"provider": self.name, "error": refused.error}
            )
            raise _failed("OAUTH_CODE_REJECTED") from refused
        return dict(token)

    async def verify_id_token(
        self, id_token: str, *, nonce: str, access_token: str | None
    ) -> dict[str, Any]:
        metadata = await self.metadata()
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in offered if alg in ID_TOKEN_ALGORITHMS]
        registry = JWSRegistry(algorithms=algorithms)
        try:
            try:
                decoded = jwt.decode(id_token, await self.key_set(), registry=registry)
            except InvalidKeyIdError:
                decoded = jwt.decode(id_token, await self.key_set(force=True), registry=registry)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                options={
                    "iss": {"essential": True, "value": self.config.issuer},
                    "aud": {"essential": True, "value": self.config.client_id},
                },
                params={
                    "nonce": nonce,
                    "client_id": self.config.client_id,
                    "access_token": access_token,
                },
            )
            claims.validate(leeway=self.leeway_s)
        except (JoseError, ValueError) as exc:
            log.info("id token rejected", extra={"provider": self.name, "error": repr(exc)})
            code = "OAUTH_NONCE_MISMATCH" if "nonce" in str(exc) else "OAUTH_ID_TOKEN_INVALID"
            raise _failed(code) from exc
        return dict(claims)


class OAuthStates:
    """Pending authorisations in Redis, keyed by ``state``; each can be taken once."""

    def __init__(self, redis: RedisStore, *, namespace: str, ttl_s: int) -> None:
        self._redis = redis
        self._namespace = namespace
        self.ttl_s = ttl_s

    def _key(self, state: str) -> str:
        return self._redis.key(self._namespace, "oauth-state", state)

    async def put(self, state: str, value: dict[str, Any]) -> None:
        async with self._redis.dependency.guard():
            await self._redis.client.set(self._key(state), orjson.dumps(value), ex=self.ttl_s)

    async def take(self, state: str) -> dict[str, Any] | None:
        if not state or len(state) > 128:
            return None
        async with self._redis.dependency.guard():
            raw = await self._redis.client.getdel(self._key(state))
        return orjson.loads(raw) if raw else None


def _provider_unavailable(provider: str, exc: Exception) -> Unavailable:
    log.warning("oauth provider unreachable", extra={"provider": provider, "error": repr(exc)})
    return Unavailable("OAUTH_PROVIDER_UNAVAILABLE", "The sign-in provider is unavailable")


def providers_from_settings(settings: IdentitySettings) -> dict[str, OidcProvider]:
    base = settings.identity_public_url.rstrip("/")
    return {
        name: OidcProvider(
            name,
            config,
            redirect_uri=f"{base}/oauth/{name}/callback",
            timeout_s=settings.http_timeout_s,
            leeway_s=settings.jwt_leeway_s,
        )
        for name, config in settings.identity_oauth_providers.items()
    }


def allowed_return_to(value: str | None, origins: list[str]) -> str | None:
    """``value`` if it is an http(s) URL on one of ``origins``; raises otherwise."""
    if value is None:
        return None
    url = URL(value) if len(value) <= MAX_RETURN_TO_LENGTH else None
    if url is None or url.scheme not in ("http", "https") or not url.netloc:
        raise Forbidden("OAUTH_RETURN_TO_NOT_ALLOWED", "This return address is not allowed")
    if f"{url.scheme}://{url.netloc}" not in origins:
        raise Forbidden("OAUTH_RETURN_TO_NOT_ALLOWED", "This return address is not allowed")
    return value


def _back_to_shop(return_to: str, *, error_code: str | None = None) -> Response:
    url = URL(return_to)
    if error_code is not None:
        url = url.include_query_params(signin_error=error_code)
    return RedirectResponse(str(url), status_code=303, headers={"Cache-Control": "no-store"})


async def _finish_sign_in(
    identity: Identity, provider: OidcProvider, pending: dict[str, Any], request: Request
) -> AuthResult:
    """The callback after its state checked out: exchange the code, verify the ID token,
    sign the person in."""
    params = request.query_params
    if params.get("error"):
        raise _failed("OAUTH_DENIED", "The provider did not authorise the sign-in")
    code = params.get("code")
    if not code or len(code) > 2048:
        raise _failed("OAUTH_CODE_MISSING", "The provider sent no authorization code")
    token = await provider.exchange(code=code, code_verifier=pending["code_verifier"])
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise _failed("OAUTH_ID_TOKEN_MISSING", "The provider sent no ID token")
    claims = await provider.verify_id_token(
        id_token, nonce=pending["nonce"], access_token=token.get("access_token")
    )
    external = ExternalIdentity(
        provider=provider.name,
        subject=str(claims["sub"]),
        email=claims.get("email") if isinstance(claims.get("email"), str) else None,
        email_verified=claims.get("email_verified") is True,
        name=claims.get("name") if isinstance(claims.get("name"), str) else None,
    )
    return await login_with_provider(
        identity=identity, external=external, client=client_info(request)
    )


def oauth_router(
    identity: Identity,
    providers: dict[str, OidcProvider],
    states: OAuthStates,
    *,
    cookie: SessionCookie,
    return_origins: list[str],
) -> APIRouter:
    router = APIRouter(prefix="/oauth", tags=["oauth"])

    def provider_named(name: str) -> OidcProvider:
        provider = providers.get(name)
        if provider is None:
            raise NotFound("OAUTH_UNKNOWN_PROVIDER", f"No sign-in provider {name!r}")
        return provider

    @router.get("/providers", summary="The configured sign-in providers")
    async def provider_list() -> Response:
        return OrjsonResponse(
            {"providers": [{"name": name} for name in sorted(providers)]},
            headers={"Cache-Control": "public, max-age=300"},
        )

    @router.get("/{provider}/login", status_code=302, summary="Start sign-in with a provider")
    async def login(provider: str, return_to: str | None = None) -> Response:
        """Redirects to the provider's authorization endpoint (code flow with PKCE).
        ``return_to``: a shop page to come back to, signed in by the session cookie."""
        try:
            chosen = provider_named(provider)
            back = allowed_return_to(return_to, return_origins)
            state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            verifier = secrets.token_urlsafe(48)
            url = await chosen.authorization_url(state=state, nonce=nonce, code_verifier=verifier)
            pending: dict[str, Any] = {
                "provider": provider,
                "nonce": nonce,
                "code_verifier": verifier,
            }
            if back is not None:
                pending["return_to"] = back
            await states.put(state, pending)
        except httpx.HTTPError as exc:
            return error_response(_provider_unavailable(provider, exc))
        except DomainError as exc:
            return error_response(exc)
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})

    @router.get("/{provider}/callback", summary="Finish sign-in with a provider")
    async def callback(provider: str, request: Request) -> Response:
        """Exchanges the code, verifies the ID token, returns the token pair as JSON (or, for
        a sign-in started with ``return_to``, sets the session cookie and redirects there)."""
        params = request.query_params
        return_to: str | None = None
        try:
            chosen = provider_named(provider)
            pending = await states.take(params.get("state", ""))
            if pending is None or pending.get("provider") != provider:
                raise _failed("OAUTH_STATE_MISMATCH", "This sign-in link is invalid or expired")
            return_to = pending.get("return_to")
            try:
                result = await _finish_sign_in(identity, chosen, pending, request)
            except httpx.HTTPError as exc:
                raise _provider_unavailable(provider, exc) from exc
        except DomainError as exc:
            if return_to is not None:
                return _back_to_shop(return_to, error_code=exc.code)
            return error_response(exc)
        if return_to is not None:
            response = _back_to_shop(return_to)
            cookie.set(response, result.refresh_token)
            return response
        return token_response(result)

    return router
