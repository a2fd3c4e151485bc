"""Payment settings: the kit's shared ``EMPORIUM_*`` settings plus ``EMPORIUM_STRIPE_*`` and
``EMPORIUM_PAYMENT_*``."""

from __future__ import annotations

from typing import Literal

from emporium_kit.settings import ServiceSettings
from pydantic import Field, SecretStr


class PaymentSettings(ServiceSettings):
    service_name: str = "payment"
    # where `serve` listens by default (EMPORIUM_PORT); the registry table's port
    port: int = Field(default=8006, ge=1, le=65535)
    payment_relay_poll_interval_s: float = Field(default=30.0, gt=0, le=600)
    # Stripe: the API base is stripe-mock on the local platform, https://api.stripe.com in
    # production (the chart's secret holds the key and the webhook secret)
    stripe_api_base: str = "https://api.stripe.com"
    stripe_api_key: SecretStr = SecretStr("sk_test_local")
    stripe_timeout_s: float = Field(default=10.0, gt=0, le=60)
    payment_webhook_secret: SecretStr = SecretStr("whsec_local")
    # webhooks signed longer ago than this are refused (Stripe's default tolerance)
    payment_webhook_tolerance_s: int = Field(default=300, ge=1, le=3600)
    # Local platform and tests only: stripe-mock sends no webhooks, so after each provider
    # call the service delivers the webhook Stripe would send, signed as Stripe signs it, to
    # this URL (its own endpoint). Unset in production, where Stripe delivers them.
    payment_webhook_relay_url: str | None = None
    payment_consumer_name: str = Field(default="payment", min_length=1, max_length=100)
    payment_consumer_deliver: Literal["all", "new"] = "all"
    # a saga step outlives a datastore outage: about 45 min of retries (backoff up to 60 s)
    payment_consumer_max_deliver: int = Field(default=50, ge=1, le=100)
