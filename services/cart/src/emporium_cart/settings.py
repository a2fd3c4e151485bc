"""Cart settings: the kit's shared ``EMPORIUM_*`` settings plus
``EMPORIUM_CART_*``."""

from __future__ import annotations

from emporium_kit.settings import ServiceSettings
from pydantic import Field


class CartSettings(ServiceSettings):
    service_name: str = "cart"
    # where `serve` listens by default (EMPORIUM_PORT); the registry table's port
    port: int = Field(default=8004, ge=1, le=65535)
    # the outbox relay's safety-net sweep; the service's own writes wake it at once
    cart_relay_poll_interval_s: float = Field(default=30.0, gt=0, le=600)
