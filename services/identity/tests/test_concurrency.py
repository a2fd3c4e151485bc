"""Concurrent changes to one account: every change is kept.

FerretDB 1.24 applies an update as an unguarded read-modify-write, so two requests changing
one user at the same moment could both "win" a version compare-and-set and one silently
undo the other. Every write of a user or a session goes through the kit's guarded write path
(a per-document lease plus the versioned update); these tests fire many changes at one
account at once, through GraphQL, and check that none was lost.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import REFRESH, Gql, make_admin, register, unique_email

pytestmark = pytest.mark.integration

ADD = "mutation($i: AddressInput!) { addAddress(input: $i) { id } }"
GRANT = (
    "mutation($u: ID!, $r: Role!, $s: ID) { grantRole(userId: $u, role: $r, sellerId: $s) { id } }"
)
PROFILE = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }"
LOGOUT_EVERYWHERE = "mutation { logoutEverywhere }"
LOGOUT = "mutation($t: String!) { logout(refreshToken: $t) }"
ME = "query { me { displayName roles sellerId addresses { line1 } } }"
SELLER_ID = "01JGFJJZ00KNWV38VZ6601RSR6"
ADDRESSES = 12


def _address(n: int) -> dict[str, Any]:
    return {
        "fullName": "Ada Lovelace",
        "line1": f"{n} Concurrency Road",
        "city": "London",
        "postalCode": "SW1Y 4JH",
        "country": "GB",
    }


async def test_concurrent_changes_to_one_user_are_all_kept(gql: Gql, identity: Any) -> None:
    admin = await make_admin(identity)
    session = await register(gql, unique_email("crowd"))
    user_id, token = session["user"]["id"], session["accessToken"]

    calls = [gql(ADD, {"i": _address(n)}, token=token) for n in range(ADDRESSES)]
    calls += [
        gql(GRANT, {"u": user_id, "r": "SELLER", "s": SELLER_ID}, token=admin["accessToken"]),
        gql(GRANT, {"u": user_id, "r": "ADMIN"}, token=admin["accessToken"]),
        gql(PROFILE, {"i": {"displayName": "Crowded"}}, token=token),
        gql(LOGOUT_EVERYWHERE, token=token),
    ]
    answers = await asyncio.gather(*calls)
    assert [a for a in answers if a.get("errors")] == []

    me = (await gql.ok(ME, token=token))["me"]
    assert sorted(a["line1"] for a in me["addresses"]) == sorted(
        _address(n)["line1"] for n in range(ADDRESSES)
    )
    assert me["roles"] == ["CUSTOMER", "SELLER", "ADMIN"]
    assert me["sellerId"] == SELLER_ID
    assert me["displayName"] == "Crowded"
    # logging out everywhere was not undone by the other writes: the old session is over
    refused = await gql(REFRESH, {"t": session["refreshToken"]})
    assert refused["errors"][0]["extensions"]["code"] == "INVALID_REFRESH_TOKEN"


async def test_a_logout_racing_a_refresh_ends_the_session(gql: Gql) -> None:
    """Logout and a refresh of the same session at once: whichever lands first, the session
    ends (the refresh's write of ``last_used_at`` must not undo the revocation)."""
    for _ in range(6):
        session = await register(gql, unique_email("race"))
        refreshed, _ = await asyncio.gather(
            gql(REFRESH, {"t": session["refreshToken"]}),
            gql(LOGOUT, {"t": session["refreshToken"]}),
        )
        if refreshed.get("errors"):
            continue  # the logout landed first
        later = await gql(REFRESH, {"t": refreshed["data"]["refreshToken"]["refreshToken"]})
        assert later["errors"][0]["extensions"]["code"] == "INVALID_REFRESH_TOKEN"
