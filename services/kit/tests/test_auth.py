"""Access-token verification, including the attacks that must fail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import httpx
import pytest
from emporium_kit.auth import (
    AUTH_ERROR_KEY,
    PRINCIPAL_KEY,
    Principal,
    TokenVerifier,
    authenticate,
    principal_from,
    require_roles,
)
from emporium_kit.errors import Forbidden, Unauthenticated
from emporium_kit.settings import ServiceSettings
from emporium_kit.testing import TokenMinter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

pytestmark = pytest.mark.unit


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, object], claims: dict[str, object], signature: bytes = b"") -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(signature)}"


def standard_claims(minter: TokenMinter, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": minter.issuer,
        "aud": minter.audience,
        "sub": "mallory",
        "iat": now,
        "exp": now + 300,
        "roles": ["admin"],
    }
    claims.update(overrides)
    return claims


@pytest.fixture(scope="module")
def minter() -> TokenMinter:
    return TokenMinter()


@pytest.fixture(scope="module")
def verifier(minter: TokenMinter) -> TokenVerifier:
    return minter.verifier()


async def reject_code(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Unauthenticated) as rejected:
        await verifier.verify(token)
    return rejected.value.code


@pytest.mark.parametrize("alg", ["ES256", "RS256", "Ed25519"])
async def test_valid_token_gives_principal(alg: str) -> None:
    minter = TokenMinter(alg=alg)
    token = minter.mint("u-1", ["seller", "customer"], seller_id="s-9", scopes=["catalog:write"])
    principal = await minter.verifier().verify(token)
    assert principal == Principal(
        subject="u-1",
        roles=frozenset({"seller", "customer"}),
        seller_id="s-9",
        scopes=frozenset({"catalog:write"}),
        token_id=principal.token_id,
    )
    assert principal.token_id


async def test_unknown_roles_are_dropped(minter: TokenMinter, verifier: TokenVerifier) -> None:
    principal = await verifier.verify(minter.mint("u", ["customer", "superuser"]))
    assert principal.roles == frozenset({"customer"})


async def test_expired_token_rejected(minter: TokenMinter, verifier: TokenVerifier) -> None:
    token = minter.mint("u", claims={"exp": int(time.time()) - 120})
    assert await reject_code(verifier, token) == "TOKEN_EXPIRED"


async def test_expiry_leeway_is_bounded(minter: TokenMinter) -> None:
    strict = minter.verifier(leeway_s=0)
    lenient = minter.verifier(leeway_s=30)
    token = minter.mint("u", claims={"exp": int(time.time()) - 5})
    assert await reject_code(strict, token) == "TOKEN_EXPIRED"
    assert (await lenient.verify(token)).subject == "u"


async def test_not_yet_valid_token_rejected(minter: TokenMinter, verifier: TokenVerifier) -> None:
    token = minter.mint("u", claims={"nbf": int(time.time()) + 600})
    assert await reject_code(verifier, token) == "TOKEN_INVALID_CLAIMS"


@pytest.mark.parametrize(
    "claims",
    [{"iss": "someone-else"}, {"aud": "another-api"}, {"aud": None}, {"sub": None}, {"exp": None}],
)
async def test_wrong_or_missing_claims_rejected(
    minter: TokenMinter, verifier: TokenVerifier, claims: dict[str, object]
) -> None:
    token = minter.mint("u", claims=claims)
    assert await reject_code(verifier, token) == "TOKEN_INVALID_CLAIMS"


async def test_tampered_payload_rejected(minter: TokenMinter, verifier: TokenVerifier) -> None:
    header, _payload, signature = minter.mint("u", ["customer"]).split(".")
    forged_payload = b64url(json.dumps(standard_claims(minter)).encode())
    token = f"{header}.{forged_payload}.{signature}"
    assert await reject_code(verifier, token) == "TOKEN_BAD_SIGNATURE"


async def test_tampered_signature_rejected(minter: TokenMinter, verifier: TokenVerifier) -> None:
    header, payload, signature = minter.mint("u").split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert await reject_code(verifier, f"{header}.{payload}.{flipped}") == "TOKEN_BAD_SIGNATURE"


async def test_token_from_another_key_with_unknown_kid_rejected(verifier: TokenVerifier) -> None:
    stranger = TokenMinter()
    assert await reject_code(verifier, stranger.mint("u", ["admin"])) == "TOKEN_UNKNOWN_KEY"


async def test_other_key_claiming_a_known_kid_fails_signature(
    minter: TokenMinter, verifier: TokenVerifier
) -> None:
    stranger = TokenMinter()
    token = stranger.mint("u", ["admin"], header={"kid": minter.kid})
    assert await reject_code(verifier, token) == "TOKEN_BAD_SIGNATURE"


async def test_alg_none_rejected(minter: TokenMinter, verifier: TokenVerifier) -> None:
    for alg in ("none", "None", "NONE"):
        token = forge({"alg": alg, "typ": "JWT", "kid": minter.kid}, standard_claims(minter))
        assert await reject_code(verifier, token) == "TOKEN_ALGORITHM_REJECTED"


async def test_hs256_signed_with_the_public_key_rejected(minter: TokenMinter) -> None:
    """The classic key-confusion attack: HMAC keyed with the server's public key."""
    pem = minter.public_key_pem()
    pem_verifier = TokenVerifier(issuer=minter.issuer, audience=minter.audience, public_key_pem=pem)
    header = {"alg": "HS256", "typ": "JWT", "kid": minter.kid}
    unsigned = forge(header, standard_claims(minter)).rsplit(".", 1)[0]
    mac = hmac.new(pem.encode(), unsigned.encode(), hashlib.sha256).digest()
    token = f"{unsigned}.{b64url(mac)}"
    assert await reject_code(pem_verifier, token) == "TOKEN_ALGORITHM_REJECTED"
    jwks_verifier = minter.verifier()
    assert await reject_code(jwks_verifier, token) == "TOKEN_ALGORITHM_REJECTED"


async def test_alg_not_matching_the_key_rejected(
    minter: TokenMinter, verifier: TokenVerifier
) -> None:
    # an ES256 key's token relabelled RS256 must not verify
    _header, payload, signature = minter.mint("u").split(".")
    relabelled = b64url(json.dumps({"alg": "RS256", "kid": minter.kid, "typ": "JWT"}).encode())
    token = f"{relabelled}.{payload}.{signature}"
    assert await reject_code(verifier, token) == "TOKEN_ALGORITHM_REJECTED"


@pytest.mark.parametrize("token", ["", "garbage", "a.b", "a.b.c.d.e", "x" * 9000, "..."])
async def test_malformed_tokens_rejected(verifier: TokenVerifier, token: str) -> None:
    assert await reject_code(verifier, token) == "TOKEN_MALFORMED"


async def test_pem_public_key_verifier(minter: TokenMinter) -> None:
    settings = ServiceSettings(service_name="t", jwt_public_key=minter.public_key_pem())
    pem_verifier = TokenVerifier.from_settings(settings)
    assert pem_verifier is not None
    assert (await pem_verifier.verify(minter.mint("u", ["admin"]))).is_admin


def test_private_pem_refused() -> None:
    minter = TokenMinter()
    private_pem = minter.key.as_pem(private=True).decode()
    with pytest.raises(ValueError, match="public"):
        TokenVerifier(issuer="i", audience="a", public_key_pem=private_pem)


def test_no_key_source_means_no_verifier() -> None:
    assert TokenVerifier.from_settings(ServiceSettings(service_name="t")) is None


class JwksServer:
    """A real (in-process ASGI) JWKS endpoint that counts fetches."""

    def __init__(self, minter: TokenMinter) -> None:
        self.minter = minter
        self.fetches = 0

        async def jwks(_request: Request) -> JSONResponse:
            self.fetches += 1
            return JSONResponse(self.minter.jwks())

        self.app = Starlette(routes=[Route("/.well-known/jwks.json", jwks)])

    def verifier(self, **kwargs: object) -> TokenVerifier:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(self.app), base_url="http://idp")
        return TokenVerifier(
            issuer=self.minter.issuer,
            audience=self.minter.audience,
            jwks_url="http://idp/.well-known/jwks.json",
            http=http,
            **kwargs,  # type: ignore[arg-type]
        )


async def test_jwks_cached_and_refetched_on_key_rotation() -> None:
    minter = TokenMinter()
    server = JwksServer(minter)
    verifier = server.verifier(refetch_min_interval_s=0)
    await verifier.start()
    assert server.fetches == 1
    old_token = minter.mint("u")
    for _ in range(3):
        await verifier.verify(old_token)
    assert server.fetches == 1, "known kid must be served from the cache"

    minter.rotate()
    new_token = minter.mint("u")
    assert (await verifier.verify(new_token)).subject == "u"
    assert server.fetches == 2, "unknown kid refetches the set once"
    assert (await verifier.verify(old_token)).subject == "u", "old key stays valid"


async def test_unknown_kid_refetch_is_rate_limited() -> None:
    minter = TokenMinter()
    server = JwksServer(minter)
    verifier = server.verifier(refetch_min_interval_s=60)
    await verifier.start()
    stranger = TokenMinter()
    for _ in range(5):
        assert await reject_code(verifier, stranger.mint("u")) == "TOKEN_UNKNOWN_KEY"
    assert server.fetches == 1, "a flood of unknown kids must not hammer the JWKS endpoint"


async def test_jwks_endpoint_down_rejects_without_crashing() -> None:
    minter = TokenMinter()
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(Starlette()), base_url="http://idp"
    )  # every path is 404
    verifier = TokenVerifier(
        issuer=minter.issuer, audience=minter.audience, jwks_url="http://idp/jwks", http=http
    )
    await verifier.start()
    assert await reject_code(verifier, minter.mint("u")) == "TOKEN_UNKNOWN_KEY"


async def test_authenticate_header_forms(minter: TokenMinter, verifier: TokenVerifier) -> None:
    assert await authenticate(verifier, None) == (None, None)
    principal, error = await authenticate(verifier, f"Bearer {minter.mint('u')}")
    assert principal is not None
    assert error is None
    principal, error = await authenticate(verifier, "Basic dXNlcjpwYXNz")
    assert principal is None
    assert error is not None
    assert error.code == "TOKEN_MALFORMED"
    principal, error = await authenticate(None, f"Bearer {minter.mint('u')}")
    assert principal is None
    assert error is not None
    assert error.code == "AUTH_NOT_CONFIGURED"


def test_role_helpers() -> None:
    seller = Principal("u", frozenset({"seller"}), seller_id="s-1")
    assert principal_from({PRINCIPAL_KEY: seller, AUTH_ERROR_KEY: None}) is seller
    assert principal_from({}) is None
    assert require_roles({PRINCIPAL_KEY: seller}, "seller", "admin") is seller
    assert require_roles({PRINCIPAL_KEY: seller}) is seller
    with pytest.raises(Forbidden) as forbidden:
        require_roles({PRINCIPAL_KEY: seller}, "admin")
    assert forbidden.value.code == "MISSING_ROLE"
    with pytest.raises(Unauthenticated) as missing:
        require_roles({}, "customer")
    assert missing.value.code == "AUTHENTICATION_REQUIRED"
    bad = Unauthenticated("TOKEN_EXPIRED", "expired")
    with pytest.raises(Unauthenticated) as expired:
        principal_from({AUTH_ERROR_KEY: bad})
    assert expired.value is bad
    with pytest.raises(ValueError, match="unknown roles"):
        require_roles({PRINCIPAL_KEY: seller}, "root")


def test_minter_ttl_sets_expiry(minter: TokenMinter) -> None:
    token = minter.mint("u", ttl=timedelta(seconds=42))
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["exp"] - claims["iat"] == 42
