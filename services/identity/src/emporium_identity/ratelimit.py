"""Rate limits (``limits``, moving window, Redis) and the progressive login lockout.

Every sensitive action is limited twice: per account (a hash of the normalised email, or
the session for refreshes) and per client address, so neither one attacker spraying many
accounts nor many addresses hammering one account gets far. A refused call raises
:class:`~emporium_identity.errors.TooManyRequests` with the seconds until the window has room.

Lockout: consecutive failed logins of one account (whatever the address) lock it for a
doubling delay from the threshold on (``domain.lockout_seconds``); a success clears it.
Keys are the account hash, so a non-existent email locks like a real one and reveals nothing.

Redis is shared state for all replicas and the calls go through the Redis breaker: when Redis
is down these checks fail closed (``UNAVAILABLE``) instead of letting unthrottled guesses in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from emporium_kit.clients import RedisStore
from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from emporium_identity.domain import lockout_seconds
from emporium_identity.errors import TooManyRequests
from emporium_identity.settings import IdentitySettings


class Action(StrEnum):
    LOGIN = "login"
    REGISTER = "register"
    REFRESH = "refresh"
    PASSWORD_RESET = "password-reset"
    VERIFY_EMAIL = "verify-email"


@dataclass(frozen=True, slots=True)
class Limits:
    per_account: tuple[RateLimitItem, ...]
    per_address: tuple[RateLimitItem, ...]


def limits_from_settings(settings: IdentitySettings) -> dict[Action, Limits]:
    def pair(account: str, address: str) -> Limits:
        return Limits(tuple(parse_many(account)), tuple(parse_many(address)))

    s = settings
    return {
        Action.LOGIN: pair(s.identity_login_limit_per_account, s.identity_login_limit_per_address),
        Action.REGISTER: pair(
            s.identity_register_limit_per_account, s.identity_register_limit_per_address
        ),
        Action.REFRESH: pair(
            s.identity_refresh_limit_per_account, s.identity_refresh_limit_per_address
        ),
        Action.PASSWORD_RESET: pair(
            s.identity_reset_limit_per_account, s.identity_reset_limit_per_address
        ),
        # verification mails cost what reset mails cost: the same limits
        Action.VERIFY_EMAIL: pair(
            s.identity_reset_limit_per_account, s.identity_reset_limit_per_address
        ),
    }


class RateLimits:
    """``await limits.hit(Action.LOGIN, account=..., address=...)`` or TooManyRequests."""

    def __init__(
        self, redis: RedisStore, *, namespace: str, limits: dict[Action, Limits], url: str
    ) -> None:
        self._redis = redis
        # limits' own Redis client would be a second pool outside the breaker: share ours
        storage = RedisStorage(
            "async+" + url,
            implementation="redispy",
            key_prefix=redis.key(namespace, "limits"),
            # limits documents connection_pool but types **options as float | str | bool
            connection_pool=redis.client.connection_pool,  # type: ignore[arg-type]
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._limits = limits

    async def hit(self, action: Action, *, account: str | None, address: str | None) -> None:
        """Count one attempt against every limit of ``action``; refuse when any is full.

        Every limit is checked before any is counted, so a refused attempt does not eat
        into the other window.
        """
        configured = self._limits[action]
        checks: list[tuple[RateLimitItem, str]] = []
        if account is not None:
            checks += [(item, f"{action}:account:{account}") for item in configured.per_account]
        if address is not None:
            checks += [(item, f"{action}:address:{address}") for item in configured.per_address]
        for item, key in checks:
            async with self._redis.dependency.guard():
                allowed = await self._limiter.test(item, key)
            if not allowed:
                raise await self._refusal(item, key)
        for item, key in checks:
            async with self._redis.dependency.guard():
                counted = await self._limiter.hit(item, key)
            if not counted:  # another request filled the window since the test
                raise await self._refusal(item, key)

    async def _refusal(self, item: RateLimitItem, key: str) -> TooManyRequests:
        async with self._redis.dependency.guard():
            stats = await self._limiter.get_window_stats(item, key)
        return TooManyRequests(
            "RATE_LIMITED",
            "Too many attempts; try again later",
            retry_after_s=stats.reset_time - time.time(),
        )

    async def clear(self, action: Action, *, account: str | None, address: str | None) -> None:
        """Forget the counts of one account/address (admin unlock, tests)."""
        configured = self._limits[action]
        async with self._redis.dependency.guard():
            for item in configured.per_account if account else ():
                await self._limiter.clear(item, f"{action}:account:{account}")
            for item in configured.per_address if address else ():
                await self._limiter.clear(item, f"{action}:address:{address}")


class Lockout:
    """Progressive lockout after consecutive failed logins of one account."""

    def __init__(
        self,
        redis: RedisStore,
        *,
        namespace: str,
        threshold: int,
        base_s: float,
        max_s: float,
        memory_s: int,
    ) -> None:
        self.redis = redis
        self._namespace = namespace
        self.threshold = threshold
        self.base_s = base_s
        self.max_s = max_s
        self.memory_s = memory_s

    def _key(self, account: str) -> str:
        return self.redis.key(self._namespace, "lockout", account)

    async def check(self, account: str) -> None:
        """Refuse while the account is locked."""
        async with self.redis.dependency.guard():
            until = await self.redis.client.hget(self._key(account), "locked_until")
        if until is not None:
            remaining = float(until) - time.time()
            if remaining > 0:
                raise TooManyRequests(
                    "ACCOUNT_LOCKED",
                    "Too many failed sign-in attempts; try again later",
                    retry_after_s=remaining,
                )

    async def failed(self, account: str) -> float:
        """Record a failure; returns the lock it caused in seconds (0 below the threshold)."""
        key = self._key(account)
        async with self.redis.dependency.guard():
            failures = int(await self.redis.client.hincrby(key, "failures", 1))
            delay = lockout_seconds(
                failures, threshold=self.threshold, base_s=self.base_s, max_s=self.max_s
            )
            async with self.redis.client.pipeline(transaction=True) as pipe:
                if delay:
                    pipe.hset(key, "locked_until", time.time() + delay)
                pipe.expire(key, self.memory_s + int(delay))
                await pipe.execute()
        return delay

    async def succeeded(self, account: str) -> None:
        async with self.redis.dependency.guard():
            await self.redis.client.delete(self._key(account))
