"""Identity settings: the kit's shared ``EMPORIUM_*`` settings plus ``EMPORIUM_IDENTITY_*``.

Rate limits use the ``limits`` notation (``"10/minute"``, ``"5 per hour"``); several limits
may be joined with ``;``. OAuth providers come as JSON in ``EMPORIUM_IDENTITY_OAUTH_PROVIDERS``::

    {"google": {"issuer": "https://accounts.google.com", "client_id": "...",
                "client_secret": "..."}}
"""

from __future__ import annotations

from typing import Literal

from emporium_kit.settings import ServiceSettings
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

# Fernet key (urlsafe base64 of 32 bytes) used only when none is configured; production
# refuses to start with it. Private signing keys are encrypted with it at rest.
DEV_KEY_ENCRYPTION_KEY = "ZW1wb3JpdW0taWRlbnRpdHktZGV2LW9ubHkta2V5ISE="

# The first demo seller of the catalog's deterministic seed ("Northwind Traders"); the
# identity seed links the demo seller account to it (a test keeps the two in step).
DEMO_SELLER_ID = "01JGFJJZ00KNWV38VZ6601RSR6"


class OAuthProvider(BaseModel):
    """One OpenID Connect provider (authorization code + PKCE)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(min_length=1, max_length=500)
    # default: <issuer>/.well-known/openid-configuration
    discovery_url: str | None = Field(default=None, max_length=1000)
    client_id: str = Field(min_length=1, max_length=500)
    client_secret: SecretStr | None = None
    scope: str = "openid email profile"

    @property
    def metadata_url(self) -> str:
        if self.discovery_url:
            return self.discovery_url
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


class IdentitySettings(ServiceSettings):
    service_name: str = "identity"
    port: int = Field(default=8001, ge=1, le=65535)
    # Where browsers reach this service: OAuth redirect URIs are built from it.
    identity_public_url: str = "http://127.0.0.1:8001"

    # Redis keys are identity:<namespace>:...; tests use a fresh namespace each session.
    identity_redis_namespace: str = Field(default="v1", pattern=r"^[A-Za-z0-9_-]{1,40}$")

    # --- tokens
    identity_access_token_ttl_s: int = Field(default=900, ge=30, le=3600)
    identity_refresh_token_ttl_s: int = Field(default=14 * 86_400, ge=60, le=90 * 86_400)
    identity_session_max_age_s: int = Field(default=90 * 86_400, ge=60, le=365 * 86_400)
    identity_signing_alg: Literal["ES256", "RS256"] = "ES256"
    # A rotated key is published this long before it signs, so every verifier (which may
    # refetch the JWKS at most every jwks_refetch_min_interval_s) knows it in time.
    identity_key_activation_delay_s: float = Field(default=60.0, ge=0, le=86_400)
    # How often a replica re-reads the key set from Mongo (other replicas may rotate).
    identity_key_cache_s: float = Field(default=15.0, gt=0, le=3600)
    # Comma-separated Fernet keys: the first encrypts private keys, all decrypt.
    identity_key_encryption_keys: SecretStr = SecretStr(DEV_KEY_ENCRYPTION_KEY)

    # --- passwords (argon2id; OWASP's minimum: m=19 MiB, t=2, p=1)
    identity_password_min_length: int = Field(default=10, ge=8, le=64)
    identity_password_max_length: int = Field(default=128, ge=64, le=1024)
    identity_argon2_time_cost: int = Field(default=2, ge=1, le=10)
    identity_argon2_memory_kib: int = Field(default=19_456, ge=8, le=1_048_576)
    identity_argon2_parallelism: int = Field(default=1, ge=1, le=16)
    # concurrent hash computations per process (each holds memory_kib of RAM)
    identity_hash_concurrency: int = Field(default=2, ge=1, le=64)

    # --- one-time tokens
    identity_password_reset_ttl_s: int = Field(default=1800, ge=60, le=86_400)
    identity_email_verification_ttl_s: int = Field(default=86_400, ge=60, le=7 * 86_400)

    # --- rate limits (moving window, per account and per client address)
    identity_login_limit_per_account: str = "10/minute"
    identity_login_limit_per_address: str = "30/minute"
    identity_register_limit_per_account: str = "5/hour"
    identity_register_limit_per_address: str = "20/hour"
    identity_refresh_limit_per_account: str = "30/minute"
    identity_refresh_limit_per_address: str = "120/minute"
    identity_reset_limit_per_account: str = "5/hour"
    identity_reset_limit_per_address: str = "20/hour"

    # --- progressive lockout: from the threshold-th consecutive failure on, each failure
    # locks the account for base * 2^(failures - threshold) seconds, capped
    identity_lockout_threshold: int = Field(default=5, ge=1, le=100)
    identity_lockout_base_s: float = Field(default=2.0, gt=0, le=3600)
    identity_lockout_max_s: float = Field(default=900.0, gt=0, le=86_400)
    # failures are forgotten after this long without one
    identity_lockout_memory_s: int = Field(default=3600, ge=60, le=7 * 86_400)

    # --- profile
    identity_max_addresses: int = Field(default=20, ge=1, le=100)

    # --- OAuth / OpenID Connect
    identity_oauth_providers: dict[str, OAuthProvider] = Field(default_factory=dict)
    identity_oauth_state_ttl_s: int = Field(default=600, ge=30, le=3600)

    # --- browser sessions (refresh token in an HttpOnly cookie, see browser.py)
    # Comma-separated origins of web shops allowed to call /auth/session with credentials
    # (CORS); empty: same-origin only.
    identity_session_origins: str = Field(default="", max_length=2000)

    # --- background work
    # the relay publishes what a write points it at at once; this sweep is the safety net
    # for entries nobody pointed at (a replica that crashed after writing)
    identity_relay_poll_interval_s: float = Field(default=30.0, gt=0, le=3600)
    identity_janitor_interval_s: float = Field(default=300.0, gt=0, le=86_400)

    identity_demo_seller_id: str = DEMO_SELLER_ID

    @field_validator("identity_oauth_providers")
    @classmethod
    def _provider_names(cls, value: dict[str, OAuthProvider]) -> dict[str, OAuthProvider]:
        for name in value:
            if not name.isascii() or not name.replace("-", "").isalnum() or len(name) > 40:
                raise ValueError(f"OAuth provider name {name!r}: letters, digits and '-' only")
        return value

    @model_validator(mode="after")
    def _production_secrets(self) -> IdentitySettings:
        if not self.is_production:
            return self
        keys = self.identity_key_encryption_keys.get_secret_value().split(",")
        if DEV_KEY_ENCRYPTION_KEY in keys:
            raise ValueError("EMPORIUM_IDENTITY_KEY_ENCRYPTION_KEYS must be set in production")
        if not self.identity_public_url.startswith("https://"):
            raise ValueError("EMPORIUM_IDENTITY_PUBLIC_URL must be https in production")
        return self

    @field_validator("identity_session_origins")
    @classmethod
    def _session_origins(cls, value: str) -> str:
        for origin in _split_origins(value):
            scheme, _, rest = origin.partition("://")
            if scheme not in ("http", "https") or not rest or "/" in rest:
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port])")
        return value

    @property
    def session_origins(self) -> list[str]:
        return _split_origins(self.identity_session_origins)

    @property
    def session_cookie_secure(self) -> bool:
        """Secure cookies in production (https only); local development runs plain http."""
        return self.is_production

    @property
    def encryption_keys(self) -> list[bytes]:
        raw = self.identity_key_encryption_keys.get_secret_value()
        return [part.strip().encode() for part in raw.split(",") if part.strip()]

    @property
    def key_retention_s(self) -> float:
        """How long a retired key stays published: its last token's life plus leeway."""
        return float(self.identity_access_token_ttl_s + self.jwt_leeway_s)


def _split_origins(value: str) -> list[str]:
    return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
