"""Inventory settings: the kit's shared ``EMPORIUM_*`` settings plus ``EMPORIUM_INVENTORY_*``."""

from __future__ import annotations

from typing import Literal

from emporium_kit.settings import ServiceSettings
from pydantic import Field


class InventorySettings(ServiceSettings):
    service_name: str = "inventory"
    # where `serve` listens by default (EMPORIUM_PORT); the registry table's port
    port: int = Field(default=8007, ge=1, le=65535)
    # the outbox relay's safety-net sweep; the service's own writes wake it at once
    inventory_relay_poll_interval_s: float = Field(default=30.0, gt=0, le=600)
    # how long a reservation holds its stock before the sweeper releases it: longer than the
    # order's steps between reserving and confirming (docs/checkout.md, *Step timeouts*)
    inventory_hold_ttl_s: float = Field(default=900.0, gt=0, le=7 * 24 * 3600)
    # a reservation whose outcome was never written (its writer died mid-way) is released
    # after this long
    inventory_pending_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    inventory_sweep_interval_s: float = Field(default=10.0, gt=0, le=3600)
    # the durable consumer of the catalog's and the order's events
    inventory_consumer_name: str = Field(default="inventory", min_length=1, max_length=100)
    # where a new durable starts: "all" (every stored event) or "new" (a test stack's own)
    inventory_consumer_deliver: Literal["all", "new"] = "all"
    # a saga step outlives a datastore outage: about 45 min of retries (backoff up to 60 s)
    inventory_consumer_max_deliver: int = Field(default=50, ge=1, le=100)
    # the local platform's demo: a SKU learnt from the catalog starts with a deterministic
    # quantity (a few low or out of stock) instead of none
    inventory_demo_stock: bool = False
    # the catalog's subgraph: `emporium-inventory seed` reads its product export
    inventory_catalog_url: str = "http://127.0.0.1:8002/graphql"
