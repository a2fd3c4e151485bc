"""Service settings from the environment (prefix ``EMPORIUM_``).

A service subclasses :class:`ServiceSettings` and gives ``service_name`` a default::

    class CatalogSettings(ServiceSettings):
        service_name: str = "catalog"

Values come from process environment variables first, then from the dotenv file named by
``EMPORIUM_ENV_FILE`` (default ``.platform/env``, which the local platform writes), then
from the defaults below, which match the local platform's ports.

URLs may carry credentials (production Secrets): never log a settings object; log
:func:`redact_url` of a URL when one must appear in a message.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_FILE = os.environ.get("EMPORIUM_ENV_FILE", ".platform/env")

# Used only when no cursor secret is configured; production refuses to start with it.
DEV_CURSOR_SECRET = "emporium-development-cursor-secret"
MIN_CURSOR_SECRET_CHARS = 32


class ServiceSettings(BaseSettings):
    """Settings shared by every Emporium service; see ``docs/architecture.md``."""

    model_config = SettingsConfigDict(
        env_prefix="EMPORIUM_",
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    service_name: str
    environment: Literal["development", "production"] = "development"

    # Where `emporium-<service> serve` listens (services default their local port; the image
    # listens on 0.0.0.0:8080), and the proxies whose X-Forwarded-For it applies.
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    forwarded_allow_ips: str = "127.0.0.1"
    # one JSON line per request (path without its query string); benchmarks turn it off
    access_log: bool = True

    mongo_url: str = "mongodb://127.0.0.1:27117/"
    mongo_database: str | None = None
    redis_url: str = "redis://127.0.0.1:16379/0"
    nats_url: str = "nats://127.0.0.1:14222"
    # replicas of every JetStream stream a service ensures: 1 on the one-node local server,
    # 3 in production (docs/events.md, "Durability"); an existing stream never loses replicas
    nats_stream_replicas: int = Field(default=1, ge=1, le=5)
    opensearch_url: str = "http://127.0.0.1:9200"

    otlp_endpoint: str | None = None
    log_level: str = "INFO"

    jwks_url: str | None = None
    jwt_public_key: str | None = None
    jwt_issuer: str = "emporium-identity"
    jwt_audience: str = "emporium"
    jwt_leeway_s: int = Field(default=30, ge=0, le=300)
    jwks_refetch_min_interval_s: float = Field(default=30.0, ge=0)

    mongo_timeout_s: float = Field(default=2.0, gt=0)
    redis_timeout_s: float = Field(default=0.5, gt=0)
    nats_timeout_s: float = Field(default=2.0, gt=0)
    opensearch_timeout_s: float = Field(default=3.0, gt=0)
    http_timeout_s: float = Field(default=5.0, gt=0)

    # Connections of this process's Mongo client (see docs/architecture.md for the budget
    # against FerretDB's limit); a call waits at most mongo_pool_wait_s for a free one.
    mongo_max_pool_size: int = Field(default=20, ge=1, le=500)
    mongo_pool_wait_s: float = Field(default=1.0, gt=0)

    # Per-document leases of the guarded write path (emporium_kit.documents.Leases).
    lease_ttl_s: float = Field(default=30.0, gt=0)
    lease_wait_s: float = Field(default=5.0, gt=0)
    lease_margin_s: float = Field(default=10.0, gt=0)
    lease_claim_retention_s: float = Field(default=3600.0, gt=0)
    lease_prune_interval_s: float = Field(default=600.0, gt=0)

    breaker_fail_max: int = Field(default=5, ge=1)
    breaker_reset_timeout_s: float = Field(default=10.0, gt=0)

    # HMAC key of every service's pagination cursors (emporium_kit.cursors): one secret for
    # all services, each list's cursors bound to the list by name
    cursor_secret: SecretStr = SecretStr(DEV_CURSOR_SECRET)

    # `serve` on SIGTERM: readiness 503 and requests still served for shutdown_grace_s (0 where
    # a preStop hook already took the pod out of the endpoints), then it stops accepting and
    # waits up to shutdown_drain_s for in-flight requests
    shutdown_grace_s: float = Field(default=5.0, ge=0)
    shutdown_drain_s: float = Field(default=10.0, gt=0)
    # seconds an idle keep-alive connection stays open: longer than any caller's pool keeps
    # one idle (the gateway's is 4 s), so the server never closes a connection just as the
    # caller reuses it (the request would fail with ECONNRESET)
    http_keep_alive_s: int = Field(default=75, ge=1)
    graphql_max_depth: int = Field(default=12, ge=1)
    graphql_max_query_chars: int = Field(default=20_000, ge=100)
    graphql_document_cache_size: int = Field(default=1024, ge=0)

    @model_validator(mode="after")
    def _default_database(self) -> ServiceSettings:
        if self.mongo_database is None:
            # frozen model: set through __dict__ once, during validation
            self.__dict__["mongo_database"] = self.service_name
        return self

    @model_validator(mode="after")
    def _cursor_secret_in_production(self) -> ServiceSettings:
        if not self.is_production:
            return self
        cursor_secret = self.cursor_secret.get_secret_value()
        if cursor_secret == DEV_CURSOR_SECRET:
            raise ValueError("EMPORIUM_CURSOR_SECRET must be set in production")
        if len(cursor_secret) < MIN_CURSOR_SECRET_CHARS:
            raise ValueError(
                f"EMPORIUM_CURSOR_SECRET must be at least {MIN_CURSOR_SECRET_CHARS} characters"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


def redact_url(url: str) -> str:
    """``scheme://user:pass@host/...`` -> ``scheme://***@host/...`` (safe to log)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    return f"{scheme}://***@{rest.split('@', 1)[1]}"
