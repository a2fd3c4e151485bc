"""RBAC: admins grant and revoke roles; the change shows in the next refreshed token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from emporium_identity.core import Identity
from emporium_kit.auth import TokenVerifier
from fastapi import FastAPI

from .conftest import BASE_URL, REFRESH, EventTap, Gql, make_admin, register

pytestmark = pytest.mark.integration

GRANT = (
    "mutation($u: ID!, $r: Role!, $s: ID) { grantRole(userId: $u, role: $r, sellerId: $s) "
    "{ id roles sellerId version } }"
)
REVOKE = "mutation($u: ID!, $r: Role!) { revokeRole(userId: $u, role: $r) { roles sellerId } }"
SELLER_ID = "01JGFJJZ00KNWV38VZ6601RSR6"


@pytest.fixture
async def verifier(app: FastAPI, identity: Identity) -> AsyncIterator[TokenVerifier]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        yield TokenVerifier(
            issuer=identity.settings.jwt_issuer,
            audience=identity.settings.jwt_audience,
            jwks_url=f"{BASE_URL}/.well-known/jwks.json",
            http=client,
        )


async def test_granted_seller_role_arrives_with_the_next_refresh(
    gql: Gql, identity: Identity, verifier: TokenVerifier, events: EventTap
) -> None:
    admin = await make_admin(identity)
    user = await register(gql)
    user_id = user["user"]["id"]

    granted = await gql.ok(
        GRANT, {"u": user_id, "r": "SELLER", "s": SELLER_ID}, token=admin["accessToken"]
    )
    assert granted["grantRole"]["roles"] == ["CUSTOMER", "SELLER"]
    assert granted["grantRole"]["sellerId"] == SELLER_ID

    # the token issued before the change still says customer...
    assert (await verifier.verify(user["accessToken"])).roles == frozenset({"customer"})
    # ...the next refresh carries the seller role and the seller it acts for
    renewed = (await gql.ok(REFRESH, {"t": user["refreshToken"]}))["refreshToken"]
    principal = await verifier.verify(renewed["accessToken"])
    assert principal.roles == frozenset({"customer", "seller"})
    assert principal.seller_id == SELLER_ID
    assert "catalog:write" in principal.scopes

    event = await events.wait_for("UserRolesChanged", user_id)
    assert event["data"]["granted"] == ["seller"]
    assert event["data"]["roles"] == ["customer", "seller"]
    assert event["data"]["seller_id"] == SELLER_ID
    assert event["data"]["changed_by"] == admin["user"].id
    assert event["data"]["version"] == granted["grantRole"]["version"]

    revoked = await gql.ok(REVOKE, {"u": user_id, "r": "SELLER"}, token=admin["accessToken"])
    assert revoked["revokeRole"] == {"roles": ["CUSTOMER"], "sellerId": None}
    again = (await gql.ok(REFRESH, {"t": renewed["refreshToken"]}))["refreshToken"]
    principal = await verifier.verify(again["accessToken"])
    assert principal.roles == frozenset({"customer"})
    assert principal.seller_id is None


async def test_customer_cannot_grant_roles_and_nothing_changes(
    gql: Gql, identity: Identity, events: EventTap
) -> None:
    customer = await register(gql)
    target = await register(gql)
    target_id = target["user"]["id"]
    before = await identity.db.users.find_one({"_id": target_id})
    assert before is not None

    for variables in (
        {"u": target_id, "r": "ADMIN"},
        {"u": customer["user"]["id"], "r": "SELLER", "s": SELLER_ID},
    ):
        error = await gql.error(GRANT, variables, token=customer["accessToken"])
        assert error["extensions"]["code"] == "MISSING_ROLE"
        assert error["extensions"]["kind"] == "FORBIDDEN"
    anonymous = await gql.error(GRANT, {"u": target_id, "r": "ADMIN"})
    assert anonymous["extensions"]["code"] == "AUTHENTICATION_REQUIRED"

    after = await identity.db.users.find_one({"_id": target_id})
    assert after is not None
    assert (after["roles"], after["version"]) == (before["roles"], before["version"])
    assert await events.all("UserRolesChanged", target_id) == []


async def test_role_rules(gql: Gql, identity: Identity) -> None:
    admin = await make_admin(identity)
    user_id = (await register(gql))["user"]["id"]
    token = admin["accessToken"]
    no_seller = await gql.error(GRANT, {"u": user_id, "r": "SELLER"}, token=token)
    assert no_seller["extensions"]["code"] == "SELLER_ID_REQUIRED"
    assert no_seller["extensions"]["field"] == ["sellerId"]
    stray = await gql.error(GRANT, {"u": user_id, "r": "ADMIN", "s": SELLER_ID}, token=token)
    assert stray["extensions"]["code"] == "SELLER_ID_NOT_ALLOWED"
    base = await gql.error(REVOKE, {"u": user_id, "r": "CUSTOMER"}, token=token)
    assert base["extensions"]["code"] == "ROLE_NOT_REVOCABLE"
    own = await gql.error(REVOKE, {"u": admin["user"].id, "r": "ADMIN"}, token=token)
    assert own["extensions"]["code"] == "CANNOT_REVOKE_OWN_ADMIN"
    ghost = await gql.error(GRANT, {"u": "01JGFJJZ00NOSUCHUSER00000", "r": "ADMIN"}, token=token)
    assert ghost["extensions"]["code"] == "USER_NOT_FOUND"


async def test_admins_page_through_users(gql: Gql, identity: Identity) -> None:
    admin = await make_admin(identity)
    created = {(await register(gql))["user"]["id"] for _ in range(3)}
    page_query = (
        "query($after: String) { users(first: 2, after: $after) { totalCount "
        "edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"
    )
    seen: list[str] = []
    after = None
    while True:
        page = (await gql.ok(page_query, {"after": after}, token=admin["accessToken"]))["users"]
        assert len(page["edges"]) <= 2
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert created <= set(seen)
    assert len(seen) == len(set(seen)) == page["totalCount"]
    assert seen == sorted(seen)  # creation order, no gaps or repeats

    sellers = "{ users(role: SELLER, first: 100) { edges { node { roles } } } }"
    for edge in (await gql.ok(sellers, token=admin["accessToken"]))["users"]["edges"]:
        assert "SELLER" in edge["node"]["roles"]
    bad = await gql.error("{ users(first: 500) { totalCount } }", token=admin["accessToken"])
    assert bad["extensions"]["code"] == "INVALID_PAGE_SIZE"
    refused = await gql.error(
        "{ users { totalCount } }", token=(await register(gql))["accessToken"]
    )
    assert refused["extensions"]["code"] == "MISSING_ROLE"
