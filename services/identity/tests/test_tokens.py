"""Access tokens against the kit's verifier using identity's JWKS, attacks, key rotation."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import orjson
import pytest
from emporium_identity.core import Identity
from emporium_identity.keys import utcnow
from emporium_kit.auth import TokenVerifier
from emporium_kit.errors import Unauthenticated
from emporium_kit.testing import TokenMinter
from fastapi import FastAPI

from .conftest import BASE_URL, Gql, login, register, unique_email

pytestmark = pytest.mark.integration

JWKS = f"{BASE_URL}/.well-known/jwks.json"
ME = "{ me { id } }"


@pytest.fixture
async def verifier(app: FastAPI, identity: Identity) -> AsyncIterator[TokenVerifier]:
    """What the gateway and every subgraph run: the kit's verifier on identity's JWKS URL."""
    settings = identity.settings
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        yield TokenVerifier(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            jwks_url=JWKS,
            http=client,
            refetch_min_interval_s=0.0,
        )


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


def _header(token: str) -> dict[str, object]:
    raw = _segments(token)[0]
    return orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))


async def test_jwks_publishes_public_keys_only(http: httpx.AsyncClient) -> None:
    response = await http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == "EC"
        assert key["crv"] == "P-256"
        assert key["alg"] == "ES256"
        assert key["kid"]
        assert "d" not in key  # no private part


async def test_access_token_verifies_with_the_kit_verifier(
    gql: Gql, verifier: TokenVerifier, identity: Identity
) -> None:
    session = await register(gql)
    token = session["accessToken"]
    header = _header(token)
    assert header["alg"] == "ES256"
    assert header["kid"] == identity.keys.signing_key().kid

    principal = await verifier.verify(token)
    assert principal.subject == session["user"]["id"]
    assert principal.roles == frozenset({"customer"})
    assert principal.scopes == frozenset({"profile"})
    assert principal.seller_id is None
    assert principal.token_id


async def _expect_rejected(verifier: TokenVerifier, gql: Gql, token: str, code: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        await verifier.verify(token)
    assert caught.value.code == code
    # identity's own resolvers refuse it the same way
    error = await gql.error(ME, token=token)
    assert error["extensions"]["code"] == code


async def test_expired_token_is_rejected(
    gql: Gql, verifier: TokenVerifier, identity: Identity
) -> None:
    user = (await register(gql))["user"]
    past = int(time.time()) - 3600
    settings = identity.settings
    expired = await identity.keys.sign(
        {
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "sub": user["id"],
            "iat": past,
            "nbf": past,
            "exp": past + 60,
            "roles": ["customer"],
        }
    )
    await _expect_rejected(verifier, gql, expired, "TOKEN_EXPIRED")


async def test_tampered_token_is_rejected(gql: Gql, verifier: TokenVerifier) -> None:
    token = (await register(gql))["accessToken"]
    header, payload, signature = _segments(token)
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin"]
    forged = f"{header}.{_b64(claims)}.{signature}"
    await _expect_rejected(verifier, gql, forged, "TOKEN_BAD_SIGNATURE")


async def test_token_with_an_unknown_kid_is_rejected(
    gql: Gql, verifier: TokenVerifier, identity: Identity
) -> None:
    stranger = TokenMinter(issuer=identity.settings.jwt_issuer)
    token = stranger.mint("someone", ["admin"])
    await _expect_rejected(verifier, gql, token, "TOKEN_UNKNOWN_KEY")


async def test_alg_none_is_rejected(gql: Gql, verifier: TokenVerifier) -> None:
    session = await register(gql)
    _, payload, _ = _segments(session["accessToken"])
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    await _expect_rejected(verifier, gql, unsigned, "TOKEN_ALGORITHM_REJECTED")


async def test_key_rotation_keeps_old_tokens_valid_until_their_key_expires(
    gql: Gql, verifier: TokenVerifier, identity: Identity, http: httpx.AsyncClient, app: FastAPI
) -> None:
    email = unique_email()
    await register(gql, email)
    before = (await login(gql, email))["accessToken"]
    old_kid = _header(before)["kid"]
    assert (await verifier.verify(before)).subject  # the verifier now caches the old JWKS

    # the normal rotation publishes the new key first and keeps signing with the old one
    pending = await identity.keys.rotate()
    assert pending.active_from > utcnow()
    published = {k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]}
    assert {old_kid, pending.kid} <= published
    assert _header((await login(gql, email))["accessToken"])["kid"] == old_kid

    # an emergency rotation signs with the new key at once
    rotated = await identity.keys.rotate(immediate=True)
    after = (await login(gql, email))["accessToken"]
    assert _header(after)["kid"] == rotated.kid != old_kid
    # the verifier learns the new kid by refetching; the old token still verifies
    assert (await verifier.verify(after)).subject == (await verifier.verify(before)).subject
    assert (await gql.ok(ME, token=before))["me"]["id"]

    # the old key stays published until its last token has expired...
    old = next(k for k in identity.keys.keys if k.kid == old_kid)
    assert old.expires_at is not None
    assert old.expires_at >= utcnow() + timedelta(seconds=identity.settings.key_retention_s - 5)
    # ...then it is gone (time moved forward: its expiry is now in the past)
    await identity.db.signing_keys.update(
        old_kid, lambda _: ({"expires_at": utcnow() - timedelta(seconds=1)}, [])
    )
    await identity.keys.load()
    assert await identity.keys.prune() >= 1
    published = {k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]}
    assert old_kid not in published
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        fresh = TokenVerifier(
            issuer=verifier.issuer, audience=verifier.audience, jwks_url=JWKS, http=client
        )
        with pytest.raises(Unauthenticated) as caught:
            await fresh.verify(before)
        assert caught.value.code == "TOKEN_UNKNOWN_KEY"
        assert (await fresh.verify(after)).subject
