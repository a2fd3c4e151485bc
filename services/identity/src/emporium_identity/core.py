"""The service's long-lived parts, shared by every request of one process."""

from __future__ import annotations

from dataclasses import dataclass

from emporium_kit.clients import RedisStore
from emporium_kit.cursors import Cursors

from emporium_identity.domain import PasswordPolicy
from emporium_identity.keys import KeyRing
from emporium_identity.models import UserRead
from emporium_identity.passwords import Passwords
from emporium_identity.ratelimit import Lockout, RateLimits, limits_from_settings
from emporium_identity.settings import IdentitySettings
from emporium_identity.store import IdentityDb
from emporium_identity.users import USER_CURSORS


@dataclass(frozen=True)
class Identity:
    """What the use cases that need more than the store take first (``identity``); the
    store itself is ``identity.db``."""

    settings: IdentitySettings
    db: IdentityDb
    keys: KeyRing
    passwords: Passwords
    policy: PasswordPolicy
    limits: RateLimits
    lockout: Lockout
    cursors: Cursors  # of the user list

    @classmethod
    def from_settings(
        cls, settings: IdentitySettings, *, db: IdentityDb, redis: RedisStore
    ) -> Identity:
        """Every part built from the settings (the app and the CLI both use it)."""
        namespace = settings.identity_redis_namespace
        return cls(
            settings=settings,
            db=db,
            keys=KeyRing(
                db,
                alg=settings.identity_signing_alg,
                encryption_keys=settings.encryption_keys,
                activation_delay_s=settings.identity_key_activation_delay_s,
                retention_s=settings.key_retention_s,
                cache_s=settings.identity_key_cache_s,
            ),
            passwords=Passwords(
                time_cost=settings.identity_argon2_time_cost,
                memory_kib=settings.identity_argon2_memory_kib,
                parallelism=settings.identity_argon2_parallelism,
                concurrency=settings.identity_hash_concurrency,
            ),
            policy=PasswordPolicy(
                min_length=settings.identity_password_min_length,
                max_length=settings.identity_password_max_length,
            ),
            limits=RateLimits(
                redis,
                namespace=namespace,
                limits=limits_from_settings(settings),
                url=settings.redis_url,
            ),
            lockout=Lockout(
                redis,
                namespace=namespace,
                threshold=settings.identity_lockout_threshold,
                base_s=settings.identity_lockout_base_s,
                max_s=settings.identity_lockout_max_s,
                memory_s=settings.identity_lockout_memory_s,
            ),
            cursors=Cursors.from_settings(settings, USER_CURSORS),
        )


@dataclass(frozen=True, slots=True)
class AuthResult:
    access_token: str
    refresh_token: str
    expires_in: int
    user: UserRead
    token_type: str = "Bearer"
