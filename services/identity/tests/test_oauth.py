"""OpenID Connect sign-in against the local provider: code flow with PKCE, state and nonce
checks, account linking by verified email only."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from emporium_identity.accounts import upsert_account
from emporium_identity.core import Identity
from ulid import ULID

from .conftest import LOGIN, PASSWORD, EventTap, Gql, login, register, unique_email
from .oidc_provider import LocalOidcProvider, Person

pytestmark = pytest.mark.integration

ME = "{ me { id email emailVerified hasPassword displayName } }"


def _person(email: str | None = None, *, verified: bool = True, name: str = "Ada") -> Person:
    return Person(
        subject=f"sub-{ULID()}",
        email=email or unique_email("oidc"),
        email_verified=verified,
        name=name,
    )


async def _authorize(http: httpx.AsyncClient) -> tuple[str, dict[str, list[str]]]:
    """Start at identity, let the provider approve: the callback URL the browser would open."""
    start = await http.get("/oauth/local/login")
    assert start.status_code == 302, start.text
    location = start.headers["location"]
    params = parse_qs(urlsplit(location).query)
    async with httpx.AsyncClient(timeout=5) as browser:  # real HTTP to the provider
        approved = await browser.get(location)
    assert approved.status_code == 302, approved.text
    return approved.headers["location"], params


async def _callback(http: httpx.AsyncClient, url: str) -> httpx.Response:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == str(http.base_url).rstrip("/")
    return await http.get(f"{parts.path}?{parts.query}")


async def _sign_in(
    http: httpx.AsyncClient, oidc: LocalOidcProvider, person: Person
) -> httpx.Response:
    oidc.sign_in_as(person)
    callback, _ = await _authorize(http)
    return await _callback(http, callback)


async def test_authorization_request_uses_pkce_state_and_nonce(
    http: httpx.AsyncClient, oidc: LocalOidcProvider
) -> None:
    start = await http.get("/oauth/local/login")
    assert start.status_code == 302
    assert start.headers["cache-control"] == "no-store"
    url = urlsplit(start.headers["location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{oidc.issuer}/authorize"
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert params["response_type"] == "code"
    assert params["client_id"] == oidc.client_id
    assert params["redirect_uri"] == "http://identity/oauth/local/callback"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43  # base64url SHA-256
    assert len(params["state"]) >= 32
    assert len(params["nonce"]) >= 32
    assert "openid" in params["scope"].split()
    unknown = await http.get("/oauth/nowhere/login")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "OAUTH_UNKNOWN_PROVIDER"


async def test_new_person_gets_an_account_and_tokens(
    http: httpx.AsyncClient, oidc: LocalOidcProvider, gql: Gql, events: EventTap
) -> None:
    person = _person(name="Ada Lovelace")
    response = await _sign_in(http, oidc, person)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["tokenType"] == "Bearer"
    me = (await gql.ok(ME, token=body["accessToken"]))["me"]
    assert me["email"] == person.email
    assert me["emailVerified"] is True
    assert me["hasPassword"] is False
    assert me["displayName"] == "Ada Lovelace"
    event = await events.wait_for("UserRegistered", me["id"])
    assert event["data"]["method"] == "oidc"
    assert event["data"]["provider"] == "local"

    # the same provider identity signs into the same account, email or not
    again = await _sign_in(http, oidc, Person(person.subject, email=None, name=None))
    assert again.status_code == 200, again.text
    assert again.json()["user"]["id"] == me["id"]
    refreshed = await gql.ok(
        "mutation($t: String!) { refreshToken(refreshToken: $t) { user { id } } }",
        {"t": again.json()["refreshToken"]},
    )
    assert refreshed["refreshToken"]["user"]["id"] == me["id"]


async def test_verified_email_links_to_the_existing_account(
    http: httpx.AsyncClient, oidc: LocalOidcProvider, identity: Identity, gql: Gql
) -> None:
    email = unique_email("linked")
    user, _ = await upsert_account(identity=identity, email=email, password=PASSWORD, roles=[])
    response = await _sign_in(http, oidc, _person(email.upper()))
    assert response.status_code == 200, response.text
    assert response.json()["user"]["id"] == user.id
    # the account keeps its password: its owner had proven the address already
    assert (await login(gql, email))["user"]["id"] == user.id


async def test_linking_an_unverified_account_removes_its_password(
    http: httpx.AsyncClient, oidc: LocalOidcProvider, gql: Gql
) -> None:
    """Someone registered the address without proving it (maybe to pre-hijack it): the
    provider-verified owner gets the account, the unproven password and sessions end."""
    email = unique_email("prehijack")
    squatter = await register(gql, email)
    response = await _sign_in(http, oidc, _person(email))
    assert response.status_code == 200, response.text
    assert response.json()["user"]["id"] == squatter["user"]["id"]
    error = await gql.error(LOGIN, {"i": {"email": email, "password": PASSWORD}})
    assert error["extensions"]["code"] == "INVALID_CREDENTIALS"
    ended = await gql.error(
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
        {"t": squatter["refreshToken"]},
    )
    assert ended["extensions"]["code"] == "INVALID_REFRESH_TOKEN"


async def test_unverified_provider_email_never_links(
    http: httpx.AsyncClient, oidc: LocalOidcProvider, identity: Identity
) -> None:
    email = unique_email("unverified")
    owner, _ = await upsert_account(identity=identity, email=email, password=PASSWORD, roles=[])
    person = _person(email, verified=False)
    response = await _sign_in(http, oidc, person)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "OAUTH_EMAIL_NOT_VERIFIED"
    assert await identity.db.oauth_links.find_one({"user_id": owner.id}) is None
    # and no account was created for an unproven address either
    assert await identity.db.users.count({"email": email}) == 1


async def test_state_mismatch_is_rejected_before_any_code_exchange(
    http: httpx.AsyncClient, oidc: LocalOidcProvider, identity: Identity
) -> None:
    person = _person()
    oidc.sign_in_as(person)
    callback, _ = await _authorize(http)
    parts = urlsplit(callback)
    code = parse_qs(parts.query)["code"][0]
    exchanges = oidc.token_requests

    forged = await http.get(f"{parts.path}?code={code}&state=forged-{ULID()}")
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "OAUTH_STATE_MISMATCH"
    missing = await http.get(f"{parts.path}?code={code}")
    assert missing.json()["error"]["code"] == "OAUTH_STATE_MISMATCH"
    assert oidc.token_requests == exchanges  # the code never reached the token endpoint

    # the genuine callback still works once; replaying it finds no state
    assert (await _callback(http, callback)).status_code == 200
    replay = await _callback(http, callback)
    assert replay.json()["error"]["code"] == "OAUTH_STATE_MISMATCH"
    assert await identity.db.users.count({"email": person.email}) == 1


async def test_nonce_mismatch_is_rejected(
    http: httpx.AsyncClient, oidc: LocalOidcProvider, identity: Identity
) -> None:
    person = _person()
    oidc.id_token_nonce = "a-nonce-identity-never-sent"
    try:
        response = await _sign_in(http, oidc, person)
    finally:
        oidc.id_token_nonce = None
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "OAUTH_NONCE_MISMATCH"
    assert await identity.db.users.find_one({"email": person.email}) is None


async def test_provider_denial_is_reported(http: httpx.AsyncClient) -> None:
    start = await http.get("/oauth/local/login")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    denied = await http.get(f"/oauth/local/callback?error=access_denied&state={state}")
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "OAUTH_DENIED"
