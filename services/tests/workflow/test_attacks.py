"""Attacks that must fail at the gateway: forged, tampered and expired tokens (verified against
identity's real JWKS), and operations too deep, too costly or too large."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from emporium_identity.keys import KeyRing
from emporium_identity.store import IdentityDb
from emporium_kit.testing import TokenMinter
from emporium_platform.harness import GraphQLClient
from pymongo import AsyncMongoClient
from pymongo.database import Database

from .conftest import (
    KEY_ENCRYPTION_KEY,
    Account,
    claims_of,
    code,
    data,
    error,
    header_of,
    register,
)

pytestmark = pytest.mark.workflow

GRANT_MYSELF_ADMIN = "mutation($id: ID!) { grantRole(userId: $id, role: ADMIN) { roles } }"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def encode(part: dict[str, Any]) -> str:
    return b64url(json.dumps(part).encode())


async def sign_with_identity_key(mongo_url: str, database: str, claims: dict[str, Any]) -> str:
    """A token signed with identity's current private key, read from its key ring."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        ring = KeyRing(
            IdentityDb(client[database]),
            alg="ES256",
            encryption_keys=[KEY_ENCRYPTION_KEY.encode()],
            activation_delay_s=0,
            retention_s=0,
        )
        return await ring.sign(claims)
    finally:
        await client.close()


async def attack_tokens(victim: Account, platform: Any, identity_database: str) -> dict[str, str]:
    """Forgeries built from a real customer token, each trying to become an admin."""
    token = victim.access_token
    header, payload, signature = token.split(".")
    claims = claims_of(token)
    escalated = {**claims, "roles": ["customer", "admin"], "scope": "profile identity:admin"}
    now = int(time.time())
    expired = {**escalated, "iat": now - 3600, "nbf": now - 3600, "exp": now - 120}
    foreign = TokenMinter(alg="ES256")
    flipped = signature[:-6] + ("A" * 6 if not signature.endswith("A" * 6) else "B" * 6)
    return {
        # genuinely signed by identity, but past exp (beyond the 30 s leeway)
        "expired": await sign_with_identity_key(platform.mongo_url, identity_database, expired),
        "tampered payload": f"{header}.{encode(escalated)}.{signature}",
        "tampered signature": f"{header}.{payload}.{flipped}",
        "unknown kid": foreign.mint(claims["sub"], ["customer", "admin"], claims=escalated),
        "published kid, foreign key": foreign.mint(
            claims["sub"],
            ["customer", "admin"],
            claims=escalated,
            header={"kid": header_of(token)["kid"]},
        ),
        "alg none": f"{encode({'alg': 'none', 'typ': 'JWT', 'kid': header_of(token)['kid']})}"
        f".{encode(escalated)}.",
    }


ATTACKS = [
    "expired",
    "tampered payload",
    "tampered signature",
    "unknown kid",
    "published kid, foreign key",
    "alg none",
]


@pytest.mark.parametrize("attack", ATTACKS)
async def test_forged_tokens_are_refused_and_change_nothing(
    gateway: GraphQLClient,
    platform: Any,
    identity_database: str,
    identity_db: Database[Any],
    attack: str,
) -> None:
    victim = register(gateway)
    forged = (await attack_tokens(victim, platform, identity_database))[attack]
    before = identity_db["users"].find_one({"_id": victim.user_id}, {"roles": 1, "version": 1})

    escalation = gateway.post(GRANT_MYSELF_ADMIN, {"id": victim.user_id}, token=forged)
    assert escalation.status_code == 401, escalation.text
    assert error(escalation)["message"] == "Unauthenticated"
    me = gateway.run("Me", token=forged)
    assert me.status_code == 401
    assert identity_db["users"].find_one({"_id": victim.user_id}, {"roles": 1, "version": 1}) == (
        before
    )
    # the genuine token still works
    assert data(gateway.run("Me", token=victim.access_token))["me"]["roles"] == ["CUSTOMER"]


async def test_identity_key_ring_signatures_are_accepted_when_fresh(
    gateway: GraphQLClient, platform: Any, identity_database: str
) -> None:
    """The control for the "expired" attack: the same signing path with a current `exp`
    passes, so that refusal is about expiry alone."""
    victim = register(gateway)
    now = int(time.time())
    fresh = {**claims_of(victim.access_token), "iat": now, "nbf": now, "exp": now + 300}
    token = await sign_with_identity_key(platform.mongo_url, identity_database, fresh)
    assert header_of(token)["kid"] == header_of(victim.access_token)["kid"]
    assert data(gateway.run("Me", token=token))["me"]["id"] == victim.user_id


# --- operation limits ----------------------------------------------------------------------------


def parent_chain(levels: int) -> str:
    inner = "id"
    for _ in range(levels):
        inner = f"parent {{ {inner} }}"
    return f'{{ category(slug: "no-such-category") {{ {inner} }} }}'


def test_over_deep_query_is_refused(gateway: GraphQLClient) -> None:
    assert data(gateway.post(parent_chain(8))) == {"category": None}
    too_deep = gateway.post(parent_chain(9))
    assert too_deep.json().get("data") is None
    assert error(too_deep)["message"].endswith("Query depth limit of 10 exceeded, found 11.")


COSTLY = """query($first: Int) {
  products(first: $first) {
    edges { node { id
      listings { seller { id } } attributes { name } images { url }
      category { children { id } } } }
  }
}"""


def test_over_costly_query_is_refused_by_the_list_size_annotations(gateway: GraphQLClient) -> None:
    """@listSize on the catalog's lists: the page size multiplies every field of a node, and
    each nested list counts its assumed size (1 + 63 per product here)."""
    affordable = gateway.post(COSTLY, {"first": 10})
    assert affordable.status_code == 200
    assert "errors" not in affordable.json(), affordable.text
    assert affordable.json()["extensions"]["cost"] == {"estimated": 631, "max": 5000}

    costly = gateway.post(COSTLY, {"first": 100})
    refusal = error(costly)
    assert refusal["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
    assert refusal["extensions"]["cost"] == {"estimated": 6301, "max": 5000}


def test_admin_user_listing_is_costed_by_page_size(gateway: GraphQLClient, admin: Account) -> None:
    listing = "query($n: Int) { users(first: $n) { edges { node { id addresses { id } } } } }"
    response = gateway.post(listing, {"n": 100}, token=admin.access_token)
    assert response.status_code == 200, response.text
    assert response.json()["extensions"]["cost"]["estimated"] == 1 + 100 * (1 + 1 + 20)


def test_oversized_request_is_refused(gateway: GraphQLClient) -> None:
    response = gateway.post("query($pad: String) { __typename }", {"pad": "x" * 70_000})
    assert response.status_code == 413
    assert code(response) == "REQUEST_TOO_LARGE"
