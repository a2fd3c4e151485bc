"""Browser sessions: the refresh token in an HttpOnly cookie scoped to /auth/session, the
CSRF header, CORS for the shop's origin only, and OpenID Connect sign-in that returns to the
shop with the cookie set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from emporium_identity.browser import COOKIE_NAME, SessionCookie
from emporium_identity.settings import IdentitySettings
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.responses import Response
from ulid import ULID

from .conftest import BASE_URL, REFRESH, SHOP_ORIGIN, Gql, register, unique_email
from .oidc_provider import LocalOidcProvider, Person

CSRF = {"X-Emporium-CSRF": "1"}
ME = "{ me { id email } }"


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own cookie jar, like one browser profile."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


def set_cookie(response: httpx.Response) -> SimpleCookie:
    cookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookie.load(header)
    return cookie


async def signed_in_browser(gql: Gql, browser: httpx.AsyncClient) -> dict:
    """Register through GraphQL, then hand the refresh token over to the cookie."""
    pair = await register(gql)
    adopted = await browser.post(
        "/auth/session", json={"refreshToken": pair["refreshToken"]}, headers=CSRF
    )
    assert adopted.status_code == 200, adopted.text
    return {"pair": pair, "adopted": adopted}


@pytest.mark.integration
async def test_adopting_a_refresh_token_sets_a_locked_down_cookie(
    gql: Gql, browser: httpx.AsyncClient
) -> None:
    signed_in = await signed_in_browser(gql, browser)
    adopted, pair = signed_in["adopted"], signed_in["pair"]
    body = adopted.json()
    assert set(body) == {"accessToken", "expiresIn", "tokenType", "user"}
    assert body["user"]["id"] == pair["user"]["id"]
    assert adopted.headers["cache-control"] == "no-store"
    morsel = set_cookie(adopted)[COOKIE_NAME]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "strict"
    assert morsel["path"] == "/auth/session"
    assert morsel["secure"] == ""  # development: plain http
    assert int(morsel["max-age"]) == 14 * 86_400
    # the cookie holds a successor: the token page script saw is spent already
    assert morsel.value != pair["refreshToken"]
    assert (await gql.ok(ME, token=body["accessToken"]))["me"]["id"] == pair["user"]["id"]


@pytest.mark.integration
async def test_the_cookie_refreshes_and_rotates(gql: Gql, browser: httpx.AsyncClient) -> None:
    signed_in = await signed_in_browser(gql, browser)
    first = browser.cookies[COOKIE_NAME]
    refreshed = await browser.post("/auth/session/refresh", headers=CSRF)
    assert refreshed.status_code == 200, refreshed.text
    second = browser.cookies[COOKIE_NAME]
    assert second != first
    me = await gql.ok(ME, token=refreshed.json()["accessToken"])
    assert me["me"]["id"] == signed_in["pair"]["user"]["id"]
    again = await browser.post("/auth/session/refresh", headers=CSRF)
    assert again.status_code == 200
    assert browser.cookies[COOKIE_NAME] != second


@pytest.mark.integration
async def test_a_stolen_token_used_after_the_handover_revokes_the_session(
    gql: Gql, browser: httpx.AsyncClient
) -> None:
    """The token the page saw at sign-in was rotated into the cookie; whoever replays it
    ends the session for both."""
    signed_in = await signed_in_browser(gql, browser)
    replay = await gql.error(REFRESH, {"t": signed_in["pair"]["refreshToken"]})
    assert replay["extensions"]["code"] == "REFRESH_TOKEN_REUSED"
    refused = await browser.post("/auth/session/refresh", headers=CSRF)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "INVALID_REFRESH_TOKEN"
    assert COOKIE_NAME not in browser.cookies  # cleared: no dead cookie kept


@pytest.mark.integration
async def test_every_route_requires_the_csrf_header(gql: Gql, browser: httpx.AsyncClient) -> None:
    pair = await register(gql)
    refused = await browser.post("/auth/session", json={"refreshToken": pair["refreshToken"]})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "CSRF_HEADER_REQUIRED"
    assert COOKIE_NAME not in browser.cookies
    wrong = await browser.post(
        "/auth/session",
        json={"refreshToken": pair["refreshToken"]},
        headers={"X-Emporium-CSRF": "yes"},
    )
    assert wrong.status_code == 403
    # nothing was rotated: the token still adopts
    adopted = await browser.post(
        "/auth/session", json={"refreshToken": pair["refreshToken"]}, headers=CSRF
    )
    assert adopted.status_code == 200
    cookie = browser.cookies[COOKIE_NAME]
    for path in ("/auth/session/refresh", "/auth/session/logout"):
        response = await browser.post(path)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "CSRF_HEADER_REQUIRED"
    assert browser.cookies[COOKIE_NAME] == cookie
    assert (await browser.post("/auth/session/refresh", headers=CSRF)).status_code == 200


@pytest.mark.integration
async def test_refresh_without_a_session(browser: httpx.AsyncClient) -> None:
    response = await browser.post("/auth/session/refresh", headers=CSRF)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "NO_SESSION"
    unknown = await browser.post(
        "/auth/session/refresh", headers=CSRF | {"cookie": f"{COOKIE_NAME}={'x' * 43}"}
    )
    assert unknown.status_code == 401
    assert unknown.json()["error"]["code"] == "INVALID_REFRESH_TOKEN"
    garbage = await browser.post(
        "/auth/session", content=b'{"refreshToken": 5}', headers=CSRF | {"content-type": "x"}
    )
    assert garbage.status_code == 401
    assert garbage.json()["error"]["code"] == "INVALID_REFRESH_TOKEN"


@pytest.mark.integration
async def test_logout_ends_the_session_and_clears_the_cookie(
    gql: Gql, browser: httpx.AsyncClient
) -> None:
    await signed_in_browser(gql, browser)
    token = browser.cookies[COOKIE_NAME]
    response = await browser.post("/auth/session/logout", headers=CSRF)
    assert response.status_code == 204
    cleared = set_cookie(response)[COOKIE_NAME]
    assert cleared.value == ""
    assert cleared["max-age"] == "0"
    assert cleared["path"] == "/auth/session"
    assert COOKIE_NAME not in browser.cookies
    ended = await gql.error(REFRESH, {"t": token})
    assert ended["extensions"]["code"] == "INVALID_REFRESH_TOKEN"
    # signing out again (no cookie) is fine
    assert (await browser.post("/auth/session/logout", headers=CSRF)).status_code == 204


@pytest.mark.integration
async def test_logout_everywhere_ends_the_cookie_session(
    gql: Gql, browser: httpx.AsyncClient
) -> None:
    signed_in = await signed_in_browser(gql, browser)
    await gql.ok("mutation { logoutEverywhere }", token=signed_in["adopted"].json()["accessToken"])
    refused = await browser.post("/auth/session/refresh", headers=CSRF)
    assert refused.status_code == 401
    assert COOKIE_NAME not in browser.cookies


@pytest.mark.integration
async def test_cors_admits_the_shop_origin_on_the_session_routes_only(
    browser: httpx.AsyncClient,
) -> None:
    preflight = {
        "Origin": SHOP_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-emporium-csrf",
    }
    allowed = await browser.options("/auth/session/refresh", headers=preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == SHOP_ORIGIN
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "x-emporium-csrf" in allowed.headers["access-control-allow-headers"].lower()
    foreign = await browser.options(
        "/auth/session/refresh", headers=preflight | {"Origin": "http://evil.test"}
    )
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers
    answered = await browser.post("/auth/session/refresh", headers=CSRF | {"Origin": SHOP_ORIGIN})
    assert answered.headers["access-control-allow-origin"] == SHOP_ORIGIN
    # the rest of identity stays same-origin
    graphql = await browser.options("/graphql", headers=preflight)
    assert "access-control-allow-origin" not in graphql.headers


@pytest.mark.unit
def test_the_cookie_is_secure_in_production() -> None:
    response = Response()
    SessionCookie(secure=True, max_age_s=60).set(response, "token")
    header = response.headers["set-cookie"]
    assert "Secure" in header
    assert "HttpOnly" in header
    assert "SameSite=strict" in header
    assert "Path=/auth/session" in header
    production = IdentitySettings(
        environment="production",
        identity_key_encryption_keys="x" * 44,
        identity_public_url="https://id.example",
        cursor_secret="c" * 32,
    )
    assert production.session_cookie_secure is True
    assert IdentitySettings().session_cookie_secure is False


@pytest.mark.unit
def test_session_origins_are_origins() -> None:
    settings = IdentitySettings(identity_session_origins=" http://a.test:5173/, https://b.test ")
    assert settings.session_origins == ["http://a.test:5173", "https://b.test"]
    for bad in ("a.test", "ftp://a.test", "http://a.test/shop", "http://"):
        with pytest.raises(ValidationError):
            IdentitySettings(identity_session_origins=bad)


# --- OpenID Connect sign-in that returns to the shop


async def oidc_round_trip(
    browser: httpx.AsyncClient, oidc: LocalOidcProvider, return_to: str
) -> httpx.Response:
    """Start at identity with return_to, let the provider approve, open the callback."""
    start = await browser.get("/oauth/local/login", params={"return_to": return_to})
    assert start.status_code == 302, start.text
    async with httpx.AsyncClient(timeout=5) as provider:  # real HTTP to the provider
        approved = await provider.get(start.headers["location"])
    assert approved.status_code == 302, approved.text
    callback = urlsplit(approved.headers["location"])
    return await browser.get(f"{callback.path}?{callback.query}")


@pytest.mark.integration
async def test_oidc_sign_in_returns_to_the_shop_with_the_session_cookie(
    gql: Gql, browser: httpx.AsyncClient, oidc: LocalOidcProvider
) -> None:
    person = Person(subject=f"sub-{ULID()}", email=unique_email("shop"), email_verified=True)
    oidc.sign_in_as(person)
    back = await oidc_round_trip(browser, oidc, f"{SHOP_ORIGIN}/account?from=oidc")
    assert back.status_code == 303, back.text
    assert back.headers["location"] == f"{SHOP_ORIGIN}/account?from=oidc"
    assert back.headers["cache-control"] == "no-store"
    assert "refreshToken" not in back.text  # nothing for page script
    morsel = set_cookie(back)[COOKIE_NAME]
    assert morsel["httponly"] is True
    assert morsel["path"] == "/auth/session"
    refreshed = await browser.post("/auth/session/refresh", headers=CSRF)
    assert refreshed.status_code == 200, refreshed.text
    me = await gql.ok(ME, token=refreshed.json()["accessToken"])
    assert me["me"]["email"] == person.email


@pytest.mark.integration
async def test_oidc_failure_returns_to_the_shop_with_the_error_code(
    browser: httpx.AsyncClient,
) -> None:
    start = await browser.get("/oauth/local/login", params={"return_to": f"{SHOP_ORIGIN}/x"})
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    denied = await browser.get(f"/oauth/local/callback?error=access_denied&state={state}")
    assert denied.status_code == 303
    assert denied.headers["location"] == f"{SHOP_ORIGIN}/x?signin_error=OAUTH_DENIED"
    assert COOKIE_NAME not in browser.cookies


@pytest.mark.integration
@pytest.mark.parametrize(
    "return_to",
    [
        "http://evil.test/account",
        "https://shop.test/account",  # another scheme is another origin
        "javascript:alert(1)",
        "/account",
        SHOP_ORIGIN + "/" + "x" * 2000,
    ],
)
async def test_oidc_return_to_must_be_on_a_shop_origin(
    browser: httpx.AsyncClient, return_to: str
) -> None:
    response = await browser.get("/oauth/local/login", params={"return_to": return_to})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "OAUTH_RETURN_TO_NOT_ALLOWED"


@pytest.mark.integration
async def test_the_providers_are_listed(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/oauth/providers", headers={"Origin": SHOP_ORIGIN})
    assert response.status_code == 200
    assert response.json() == {"providers": [{"name": "local"}]}
    assert response.headers["access-control-allow-origin"] == SHOP_ORIGIN
