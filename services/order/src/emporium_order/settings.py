"""Order settings: the kit's shared ``EMPORIUM_*`` settings plus ``EMPORIUM_ORDER_*``."""

from __future__ import annotations

from typing import Literal

from emporium_kit.settings import ServiceSettings
from pydantic import Field


class OrderSettings(ServiceSettings):
    service_name: str = "order"
    # where `serve` listens by default (EMPORIUM_PORT); the registry table's port
    port: int = Field(default=8005, ge=1, le=65535)
    order_relay_poll_interval_s: float = Field(default=30.0, gt=0, le=600)
    # the cart's subgraph: the buyer's cart, priced, an order is placed from
    order_cart_url: str = "http://127.0.0.1:8004/graphql"
    # each saga step's deadline (docs/checkout.md, *Step timeouts*)
    order_payment_timeout_s: float = Field(default=900.0, gt=0, le=7 * 24 * 3600)
    order_reservation_timeout_s: float = Field(default=120.0, gt=0, le=24 * 3600)
    order_capture_timeout_s: float = Field(default=300.0, gt=0, le=24 * 3600)
    order_sweep_interval_s: float = Field(default=10.0, gt=0, le=3600)
    order_consumer_name: str = Field(default="order", min_length=1, max_length=100)
    order_consumer_deliver: Literal["all", "new"] = "all"
    # a saga step outlives a datastore outage: about 45 min of retries (backoff up to 60 s)
    order_consumer_max_deliver: int = Field(default=50, ge=1, le=100)
