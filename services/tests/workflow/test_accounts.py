"""A client's account through the one GraphQL endpoint: register, sign in, refresh, sign out,
profile and address book, OpenID Connect sign-in, refresh-token theft and brute force."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from emporium_platform.harness import GraphQLClient, Stack
from pymongo.database import Database

from .conftest import (
    LOCKOUT_THRESHOLD,
    PASSWORD,
    claims_of,
    code,
    data,
    error,
    load_oidc_provider,
    login,
    refresh,
    register,
    unique_email,
)

pytestmark = pytest.mark.workflow


def address(**overrides: Any) -> dict[str, Any]:
    return {
        "fullName": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": "London",
        "postalCode": "sw1y 4jh",
        "country": "gb",
        "phone": "+44 20 7946 0958",
        **overrides,
    }


def test_register_login_me_refresh_logout(gateway: GraphQLClient) -> None:
    email = unique_email("flow")
    registered = register(gateway, email.upper())
    assert registered.user_id
    claims = claims_of(registered.access_token)
    assert claims["roles"] == ["customer"]
    assert claims["scope"] == "profile"

    session = login(gateway, email)
    assert session.user_id == registered.user_id
    me = data(gateway.run("Me", token=session.access_token))["me"]
    assert me["email"] == email  # normalised at registration
    assert me["roles"] == ["CUSTOMER"]
    assert me["addresses"] == []

    renewed = refresh(gateway, session)
    assert renewed.refresh_token != session.refresh_token
    assert data(gateway.run("Me", token=renewed.access_token))["me"]["id"] == session.user_id

    assert data(gateway.run("Logout", {"refreshToken": renewed.refresh_token})) == {"logout": True}
    after_logout = gateway.run("RefreshToken", {"refreshToken": renewed.refresh_token})
    assert code(after_logout) == "INVALID_REFRESH_TOKEN"
    # the other session (from registration) is untouched by that logout
    assert refresh(gateway, registered).user_id == registered.user_id


def test_me_needs_a_token_at_the_gateway(gateway: GraphQLClient) -> None:
    response = gateway.run("Me")
    assert response.status_code == 401
    assert code(response) == "AUTHENTICATION_REQUIRED"
    assert error(response)["message"] == "Sign in to select Query.me"


def test_refresh_token_replay_revokes_the_whole_family(gateway: GraphQLClient) -> None:
    account = register(gateway)
    stolen = account.refresh_token
    legitimate = refresh(gateway, account)

    replay = gateway.run("RefreshToken", {"refreshToken": stolen})
    assert code(replay) == "REFRESH_TOKEN_REUSED"
    # both holders are signed out: the newer token of the family is revoked too
    newer = gateway.run("RefreshToken", {"refreshToken": legitimate.refresh_token})
    assert code(newer) == "INVALID_REFRESH_TOKEN"
    # signing in again works
    assert login(gateway, account.email).user_id == account.user_id


def test_brute_force_login_is_throttled_with_retry_after(gateway: GraphQLClient) -> None:
    account = register(gateway)
    attempts = []
    for _ in range(LOCKOUT_THRESHOLD + 1):
        response = gateway.run("Login", {"input": {"email": account.email, "password": "wrong!"}})
        attempts.append(code(response))
        if attempts[-1] != "INVALID_CREDENTIALS":
            break
    assert attempts[:LOCKOUT_THRESHOLD] == ["INVALID_CREDENTIALS"] * LOCKOUT_THRESHOLD
    assert attempts[-1] == "ACCOUNT_LOCKED"

    # even the right password is refused while locked, and the client learns how long to wait
    locked = gateway.run("Login", {"input": {"email": account.email, "password": PASSWORD}})
    refusal = error(locked)
    assert refusal["extensions"]["code"] == "ACCOUNT_LOCKED"
    retry_after = int(locked.headers["retry-after"])
    assert 0 < retry_after <= 30
    assert refusal["extensions"]["retryAfter"] == retry_after


def session_address(identity_db: Database[Any], response: httpx.Response) -> str:
    session_id = claims_of(data(response)["login"]["accessToken"])["sid"]
    stored = identity_db["sessions"].find_one({"_id": session_id})
    assert stored is not None
    return str(stored["client"]["address"])


def test_identity_sees_the_client_address_the_gateway_determined(
    gateway: GraphQLClient, stack: Stack, identity_db: Database[Any]
) -> None:
    """Identity's per-address limits and session records use the address the gateway passes
    on as X-Forwarded-For: a client-sent header is ignored, the hop appended by a trusted
    ingress (EMPORIUM_TRUST_FORWARDED_FOR) is used."""
    account = register(gateway)
    credentials = {"input": {"email": account.email, "password": PASSWORD}}
    spoofed = {"x-forwarded-for": "203.0.113.7"}
    direct = gateway.run("Login", credentials, headers=spoofed)
    assert session_address(identity_db, direct) == "127.0.0.1"

    with stack.gateway(
        "gateway-behind-ingress", EMPORIUM_TRUST_FORWARDED_FOR="true"
    ) as behind_ingress:
        appended = {"x-forwarded-for": "198.51.100.1, 203.0.113.7"}
        response = behind_ingress.run("Login", credentials, headers=appended)
    assert session_address(identity_db, response) == "203.0.113.7"


def test_profile_and_address_book(gateway: GraphQLClient) -> None:
    token = register(gateway).access_token
    profile = data(
        gateway.run(
            "UpdateProfile",
            {"input": {"displayName": "Ada", "phone": "+1 415 555 2671", "locale": "en-GB"}},
            token=token,
        )
    )["updateProfile"]
    assert (profile["displayName"], profile["phone"], profile["locale"]) == (
        "Ada",
        "+14155552671",
        "en-GB",
    )

    home = data(gateway.run("AddAddress", {"input": address(label="Home")}, token=token))
    (first,) = home["addAddress"]["addresses"]
    assert (first["country"], first["postalCode"], first["phone"]) == (
        "GB",
        "SW1Y 4JH",
        "+442079460958",
    )
    assert first["isDefaultShipping"]
    assert first["isDefaultBilling"]

    work = data(
        gateway.run(
            "AddAddress",
            {"input": address(label="Work", city="Cambridge", defaultBilling=True)},
            token=token,
        )
    )["addAddress"]["addresses"]
    second = next(a for a in work if a["label"] == "Work")
    assert [(a["isDefaultShipping"], a["isDefaultBilling"]) for a in work] == [
        (True, False),
        (False, True),
    ]

    defaults = data(
        gateway.run("SetDefaultAddress", {"id": second["id"], "kind": "SHIPPING"}, token=token)
    )["setDefaultAddress"]
    assert defaults["defaultShippingAddress"]["id"] == second["id"]
    assert defaults["defaultBillingAddress"]["id"] == second["id"]

    edited = data(
        gateway.run("UpdateAddress", {"id": first["id"], "input": {"line2": "Flat 3"}}, token=token)
    )["updateAddress"]["addresses"]
    assert next(a for a in edited if a["id"] == first["id"])["line2"] == "Flat 3"

    # invalid input: every problem named with its field path, nothing written
    before = data(gateway.run("Me", token=token))["me"]
    refused = gateway.run(
        "AddAddress", {"input": address(country="XX", postalCode="1")}, token=token
    )
    problem = error(refused)["extensions"]
    assert problem["code"] == "VALIDATION_FAILED"
    assert {tuple(p["field"]): p["code"] for p in problem["errors"]} == {
        ("input", "country"): "INVALID_COUNTRY",
        ("input", "postalCode"): "INVALID_POSTAL_CODE",
    }
    assert data(gateway.run("Me", token=token))["me"] == before

    remaining = data(gateway.run("DeleteAddress", {"id": second["id"]}, token=token))
    (only,) = remaining["deleteAddress"]["addresses"]
    assert only == {"id": first["id"], "isDefaultShipping": True, "isDefaultBilling": True}


def test_openid_connect_sign_in_then_the_gateway(
    gateway: GraphQLClient, identity: Any, oidc: Any
) -> None:
    """Code flow + PKCE at the local provider (REST on identity, where HTTP is the contract);
    the tokens it yields work at the gateway like any other."""
    email = unique_email("oidc")
    person = load_oidc_provider().Person(subject=f"sub-{email}", email=email, name="Grace")
    oidc.sign_in_as(person)
    with httpx.Client(timeout=10) as browser:
        start = browser.get(f"{identity.url}/oauth/local/login")
        assert start.status_code == 302, start.text
        assert urlsplit(start.headers["location"]).netloc == urlsplit(oidc.issuer).netloc
        approved = browser.get(start.headers["location"])
        assert approved.status_code == 302, approved.text
        callback = approved.headers["location"]
        assert callback.startswith(f"{identity.url}/oauth/local/callback?")
        tokens = browser.get(callback)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()

    me = data(gateway.run("Me", token=body["accessToken"]))["me"]
    assert me["email"] == email
    assert me["emailVerified"] is True
    assert me["hasPassword"] is False
    assert me["displayName"] == "Grace"
    renewed = data(gateway.run("RefreshToken", {"refreshToken": body["refreshToken"]}))
    assert renewed["refreshToken"]["user"]["id"] == me["id"]
