"""Notification settings: the kit's shared ``EMPORIUM_*`` settings plus ``EMPORIUM_SMTP_URL``
and ``EMPORIUM_NOTIFICATION_*``."""

from __future__ import annotations

from typing import Literal

from emporium_kit.settings import ServiceSettings
from pydantic import Field, SecretStr


class NotificationSettings(ServiceSettings):
    service_name: str = "notification"
    # where `serve` listens by default (EMPORIUM_PORT); the registry table's port
    port: int = Field(default=8009, ge=1, le=65535)
    notification_relay_poll_interval_s: float = Field(default=30.0, gt=0, le=600)
    # the mail relay: smtp://host:port (smtps:// for implicit TLS); Mailpit locally
    smtp_url: str = "smtp://127.0.0.1:11025"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # attempts per delivery of an event, with backoff, for transient SMTP failures; the
    # event's redeliveries (then the dead-letter stream) come after
    notification_send_attempts: int = Field(default=4, ge=1, le=10)
    notification_from_address: str = "Emporium <orders@emporium.local>"
    # the links in account emails point here
    notification_storefront_url: str = "http://127.0.0.1:5173"
    notification_consumer_name: str = Field(default="notification", min_length=1, max_length=100)
    notification_consumer_deliver: Literal["all", "new"] = "all"
    notification_consumer_max_deliver: int = Field(default=5, ge=1, le=100)
