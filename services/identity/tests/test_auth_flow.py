"""Registration, login, refresh rotation, logout, password reset and email verification."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from emporium_identity import service, tokens
from emporium_identity.domain import Role
from emporium_identity.keys import utcnow
from emporium_identity.passwords import Passwords
from emporium_identity.service import Identity
from emporium_identity.tokens import ClientInfo
from emporium_kit.errors import Unauthenticated

from .conftest import (
    LOGIN,
    PASSWORD,
    REFRESH,
    REGISTER,
    EventTap,
    Gql,
    login,
    register,
    unique_email,
)

pytestmark = pytest.mark.integration

ME = "{ me { id email emailVerified hasPassword roles displayName } }"
LOGOUT = "mutation($t: String!) { logout(refreshToken: $t) }"


async def test_register_login_me_refresh_logout(gql: Gql) -> None:
    email = unique_email()
    registered = await register(gql, email)
    assert registered["user"]["email"] == email
    assert registered["user"]["roles"] == ["CUSTOMER"]
    assert registered["tokenType"] == "Bearer"
    assert 0 < registered["expiresIn"] <= 3600

    signed_in = await login(gql, email)
    assert signed_in["user"]["id"] == registered["user"]["id"]
    assert signed_in["refreshToken"] != registered["refreshToken"]

    me = (await gql.ok(ME, token=signed_in["accessToken"]))["me"]
    assert me == {
        "id": registered["user"]["id"],
        "email": email,
        "emailVerified": False,
        "hasPassword": True,
        "roles": ["CUSTOMER"],
        "displayName": None,
    }

    renewed = (await gql.ok(REFRESH, {"t": signed_in["refreshToken"]}))["refreshToken"]
    assert renewed["refreshToken"] != signed_in["refreshToken"]
    assert renewed["accessToken"] != signed_in["accessToken"]
    assert (await gql.ok(ME, token=renewed["accessToken"]))["me"]["email"] == email

    assert (await gql.ok(LOGOUT, {"t": renewed["refreshToken"]}))["logout"] is True
    error = await gql.error(REFRESH, {"t": renewed["refreshToken"]})
    assert error["extensions"]["code"] == "INVALID_REFRESH_TOKEN"
    # the session that registration started is a different family: still alive
    other = (await gql.ok(REFRESH, {"t": registered["refreshToken"]}))["refreshToken"]
    assert other["user"]["id"] == registered["user"]["id"]


async def test_refresh_token_replay_revokes_the_whole_family(gql: Gql) -> None:
    email = unique_email()
    await register(gql, email)
    first = await login(gql, email)
    second = (await gql.ok(REFRESH, {"t": first["refreshToken"]}))["refreshToken"]

    replay = await gql.error(REFRESH, {"t": first["refreshToken"]})
    assert replay["extensions"]["code"] == "REFRESH_TOKEN_REUSED"
    assert replay["extensions"]["kind"] == "UNAUTHENTICATED"
    # the newer token of the family, held by the legitimate client or the thief, is dead too
    newer = await gql.error(REFRESH, {"t": second["refreshToken"]})
    assert newer["extensions"]["code"] == "INVALID_REFRESH_TOKEN"


async def test_simultaneous_rotations_of_one_token_leave_no_live_family(
    identity: Identity,
) -> None:
    """Concurrent uses of one refresh token are a reuse: exactly one rotation wins the
    claim, the others revoke the family, so no token issued from it keeps working.
    (Rotations run straight against the store: the per-account refresh limit would
    otherwise turn most of the concurrent calls away before they race.)"""
    user, _ = await service.upsert_account(
        identity, email=unique_email(), password=PASSWORD, roles=[Role.CUSTOMER]
    )
    for _ in range(3):
        signed_in = await service.login(
            identity, email=user.email, password=PASSWORD, client=ClientInfo("10.1.2.3")
        )
        record = await tokens.lookup(identity.store, signed_in.refresh_token)
        assert record is not None
        results = await asyncio.gather(
            *(
                tokens.rotate(identity.store, record=record, now=utcnow(), refresh_ttl_s=600)
                for _ in range(30)
            ),
            return_exceptions=True,
        )
        issued = [r.refresh_token for r in results if isinstance(r, tokens.Rotation)]
        refused = [r.code for r in results if isinstance(r, Unauthenticated)]
        assert len(issued) == 1, f"{len(issued)} rotations of one token succeeded"
        assert len(refused) == 29
        assert "REFRESH_TOKEN_REUSED" in refused
        assert set(refused) <= {"REFRESH_TOKEN_REUSED", "INVALID_REFRESH_TOKEN"}
        with pytest.raises(Unauthenticated) as dead:
            await service.refresh(identity, refresh_token=issued[0], client=ClientInfo("10.1.2.3"))
        assert dead.value.code == "INVALID_REFRESH_TOKEN"


async def test_unknown_and_garbage_refresh_tokens_are_rejected(gql: Gql) -> None:
    for token in ("x" * 43, "not-a-token"):
        error = await gql.error(REFRESH, {"t": token})
        assert error["extensions"]["code"] == "INVALID_REFRESH_TOKEN"
    error = await gql.error(REFRESH, {"t": "y" * 600})
    assert error["extensions"]["code"] == "INVALID_TOKEN"
    assert error["extensions"]["field"] == ["refreshToken"]


async def test_login_failures_do_not_reveal_whether_the_email_exists(gql: Gql) -> None:
    email = unique_email()
    await register(gql, email)
    wrong_password = await gql.error(LOGIN, {"i": {"email": email, "password": "not it at all"}})
    no_account = await gql.error(
        LOGIN, {"i": {"email": unique_email("nobody"), "password": PASSWORD}}
    )
    malformed = await gql.error(LOGIN, {"i": {"email": "not an email", "password": PASSWORD}})
    for error in (wrong_password, no_account, malformed):
        assert error["extensions"]["code"] == "INVALID_CREDENTIALS"
        assert error["message"] == wrong_password["message"]


async def test_emails_are_normalised_and_unique(gql: Gql) -> None:
    local = f"Mixed.Case-{unique_email().split('@')[0]}"
    registered = await register(gql, f"  {local}@EXAMPLE.com ")
    canonical = f"{local.lower()}@example.com"
    assert registered["user"]["email"] == canonical
    # full-width letters fold to ASCII under NFKC: the same account
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isalpha() else c for c in "example")
    assert (await login(gql, f"{local.upper()}@{full_width}.com"))["user"]["email"] == canonical

    duplicate = await gql.error(REGISTER, {"i": {"email": canonical.upper(), "password": PASSWORD}})
    assert duplicate["extensions"]["code"] == "REGISTRATION_REJECTED"
    invalid = await gql.error(REGISTER, {"i": {"email": "no-at-sign", "password": PASSWORD}})
    assert invalid["extensions"]["code"] == "INVALID_EMAIL"
    assert invalid["extensions"]["field"] == ["input", "email"]


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short1!", "PASSWORD_TOO_SHORT"),
        ("1234567890", "PASSWORD_TOO_COMMON"),
        ("qwertyuiop", "PASSWORD_TOO_COMMON"),
        ("a" * 129, "PASSWORD_TOO_LONG"),
    ],
)
async def test_password_policy_rejects_and_writes_nothing(
    gql: Gql, identity: Identity, password: str, code: str
) -> None:
    email = unique_email()
    error = await gql.error(REGISTER, {"i": {"email": email, "password": password}})
    assert error["extensions"]["code"] == code
    assert error["extensions"]["field"] == ["input", "password"]
    assert await identity.store.users.find_one({"email": email}) is None


async def test_registration_publishes_user_registered_once(gql: Gql, events: EventTap) -> None:
    user = (await register(gql))["user"]
    event = await events.wait_for("UserRegistered", user["id"])
    assert event["data"]["email"] == user["email"]
    assert event["data"]["method"] == "password"
    assert event["source"] == "identity"
    assert len(await events.all("UserRegistered", user["id"])) == 1


async def test_logout_everywhere_ends_every_session(gql: Gql) -> None:
    email = unique_email()
    await register(gql, email)
    one, two = await login(gql, email), await login(gql, email)
    mutation = "mutation { logoutEverywhere }"
    assert (await gql.ok(mutation, token=one["accessToken"]))["logoutEverywhere"] is True
    for session in (one, two):
        error = await gql.error(REFRESH, {"t": session["refreshToken"]})
        assert error["extensions"]["code"] == "INVALID_REFRESH_TOKEN"
    # a new sign-in works again
    assert (await login(gql, email))["user"]["email"] == email


async def test_password_reset_is_single_use_and_ends_sessions(
    gql: Gql, identity: Identity, events: EventTap
) -> None:
    email = unique_email()
    user = (await register(gql, email))["user"]
    session = await login(gql, email)
    request = "mutation($e: String!) { requestPasswordReset(email: $e) }"
    assert (await gql.ok(request, {"e": email.upper()}))["requestPasswordReset"] is True
    # an unknown address gets the same answer
    assert (await gql.ok(request, {"e": unique_email("ghost")}))["requestPasswordReset"] is True

    event = await events.wait_for("PasswordResetRequested", user["id"])
    token = event["data"]["token"]
    stored = await identity.store.users.find_one({"_id": user["id"]})
    assert stored is not None
    assert token not in str(stored["password_reset"])  # only its hash is kept

    reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }"
    weak = await gql.error(reset, {"t": token, "p": "1234567890"})
    assert weak["extensions"]["code"] == "PASSWORD_TOO_COMMON"
    assert weak["extensions"]["field"] == ["newPassword"]
    new_password = "a brand new passphrase"
    assert (await gql.ok(reset, {"t": token, "p": new_password}))["resetPassword"] is True

    again = await gql.error(reset, {"t": token, "p": "yet another passphrase"})
    assert again["extensions"]["code"] == "INVALID_RESET_TOKEN"
    ended = await gql.error(REFRESH, {"t": session["refreshToken"]})
    assert ended["extensions"]["code"] == "INVALID_REFRESH_TOKEN"
    old = await gql.error(LOGIN, {"i": {"email": email, "password": PASSWORD}})
    assert old["extensions"]["code"] == "INVALID_CREDENTIALS"
    assert (await login(gql, email, new_password))["user"]["id"] == user["id"]


async def test_email_verification(gql: Gql, events: EventTap) -> None:
    session = await register(gql)
    user, access = session["user"], session["accessToken"]
    request = "mutation { requestEmailVerification }"
    assert (await gql.ok(request, token=access))["requestEmailVerification"] is True
    token = (await events.wait_for("EmailVerificationRequested", user["id"]))["data"]["token"]

    verify = "mutation($t: String!) { verifyEmail(token: $t) }"
    assert (await gql.ok(verify, {"t": token}))["verifyEmail"] is True
    assert (await gql.ok(ME, token=access))["me"]["emailVerified"] is True
    reused = await gql.error(verify, {"t": token})
    assert reused["extensions"]["code"] == "INVALID_VERIFICATION_TOKEN"
    # nothing left to verify
    assert (await gql.ok(request, token=access))["requestEmailVerification"] is False


async def test_login_rehashes_when_argon2_parameters_change(identity: Identity) -> None:
    email = unique_email()
    await service.upsert_account(identity, email=email, password=PASSWORD, roles=[])
    before = await identity.store.users.find_one({"email": email})
    assert before is not None
    assert ",t=1," in before["password_hash"]

    stronger = dataclasses.replace(
        identity, passwords=Passwords(time_cost=2, memory_kib=2048, parallelism=1)
    )
    await service.login(stronger, email=email, password=PASSWORD, client=ClientInfo())
    after = await identity.store.users.find_one({"email": email})
    assert after is not None
    assert after["password_hash"].startswith("$argon2id$v=19$m=2048,t=2,p=1$")
    # the new hash still verifies, with either instance
    result = await service.login(identity, email=email, password=PASSWORD, client=ClientInfo())
    assert result.user.email == email
