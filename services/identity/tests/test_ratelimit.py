"""Brute force is throttled: progressive lockout per account, moving-window limits per
account and per client address, each refusal with Retry-After (real Redis)."""

from __future__ import annotations

import time

import pytest
from emporium_identity.core import Identity
from emporium_identity.errors import TooManyRequests
from emporium_identity.ratelimit import Action, Limits, Lockout, RateLimits
from limits import parse
from ulid import ULID

from .conftest import LOGIN, PASSWORD, REGISTER, Gql, register, unique_email

pytestmark = pytest.mark.integration


async def test_brute_force_login_is_locked_then_rate_limited(gql: Gql) -> None:
    """Test settings: lockout from the 3rd consecutive failure (1 s, doubling), and at most
    6 login attempts per account and minute."""
    email = unique_email()
    await register(gql, email)
    wrong = {"i": {"email": email, "password": "guess number one"}}
    for _ in range(3):
        error = await gql.error(LOGIN, wrong)
        assert error["extensions"]["code"] == "INVALID_CREDENTIALS"

    # locked now: even the right password is refused, with the time to wait
    response = await gql.raw(LOGIN, {"i": {"email": email, "password": PASSWORD}})
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "ACCOUNT_LOCKED"
    assert error["extensions"]["kind"] == "RATE_LIMITED"
    assert 1 <= error["extensions"]["retryAfter"] <= 2
    assert response.headers["retry-after"] == str(error["extensions"]["retryAfter"])

    # attempts while locked still count: the 7th attempt of the minute hits the window limit
    codes = [(await gql.error(LOGIN, wrong))["extensions"]["code"] for _ in range(2)]
    assert set(codes) <= {"ACCOUNT_LOCKED", "INVALID_CREDENTIALS"}
    response = await gql.raw(LOGIN, {"i": {"email": email, "password": PASSWORD}})
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert 1 <= error["extensions"]["retryAfter"] <= 60
    assert int(response.headers["retry-after"]) == error["extensions"]["retryAfter"]


async def test_lockout_grows_with_each_failure_and_clears_on_success(identity: Identity) -> None:
    redis = identity.lockout.redis  # the app's own store: same Redis, same breaker
    lockout = Lockout(
        redis, namespace=f"lockout-{ULID()}", threshold=3, base_s=1.0, max_s=5.0, memory_s=60
    )
    account = "acct"
    delays = [await lockout.failed(account) for _ in range(6)]
    assert delays == [0.0, 0.0, 1.0, 2.0, 4.0, 5.0]  # doubling, capped
    with pytest.raises(TooManyRequests) as caught:
        await lockout.check(account)
    assert caught.value.code == "ACCOUNT_LOCKED"
    assert 4 <= caught.value.retry_after <= 5
    await lockout.succeeded(account)
    await lockout.check(account)  # no longer locked
    assert await lockout.failed(account) == 0.0  # and the count starts over


async def test_limits_apply_per_client_address_and_per_account(identity: Identity) -> None:
    redis = identity.lockout.redis
    limits = RateLimits(
        redis,
        namespace=f"limits-{ULID()}",
        limits={
            Action.LOGIN: Limits(per_account=(parse("2/minute"),), per_address=(parse("3/minute"),))
        },
        url=identity.settings.redis_url,
    )
    # one address spraying three accounts: the fourth attempt is refused
    for account in ("a", "b", "c"):
        await limits.hit(Action.LOGIN, account=account, address="10.0.0.1")
    started = time.time()
    with pytest.raises(TooManyRequests) as caught:
        await limits.hit(Action.LOGIN, account="d", address="10.0.0.1")
    assert 1 <= caught.value.retry_after <= 60
    assert time.time() - started < 1
    # another address is not affected, but account "a" has one attempt left in its window
    await limits.hit(Action.LOGIN, account="a", address="10.0.0.2")
    with pytest.raises(TooManyRequests):
        await limits.hit(Action.LOGIN, account="a", address="10.0.0.3")
    # a refused attempt was not counted against the other window
    await limits.hit(Action.LOGIN, account="e", address="10.0.0.3")


async def test_registration_is_limited_per_account(gql: Gql) -> None:
    email = unique_email()
    await register(gql, email)
    codes = []
    for _ in range(5):  # test settings: 5 registrations per account and hour
        error = await gql.error(REGISTER, {"i": {"email": email, "password": PASSWORD}})
        codes.append(error["extensions"]["code"])
    assert codes == ["REGISTRATION_REJECTED"] * 4 + ["RATE_LIMITED"]
