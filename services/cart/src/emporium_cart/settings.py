"""Cart settings: the kit's shared ``EMPORIUM_*`` settings plus ``EMPORIUM_CART_*``."""

from __future__ import annotations

from emporium_kit.events import Deliver
from emporium_kit.settings import ServiceSettings
from pydantic import Field

DAY_S = 86_400


class CartSettings(ServiceSettings):
    service_name: str = "cart"
    # where `serve` listens by default (EMPORIUM_PORT); the registry table's port
    port: int = Field(default=8004, ge=1, le=65535)
    # Mongo holds admin data and the consumer's records only: a small pool keeps the local
    # platform inside FerretDB's connection budget (docs/architecture.md)
    mongo_max_pool_size: int = Field(default=5, ge=1, le=500)
    # Redis keys are cart:<namespace>:...; tests run each stack in a namespace of its own
    cart_namespace: str = Field(default="v1", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    # the catalog subgraph: prices on a miss of the event-carried product state
    cart_catalog_url: str = "http://127.0.0.1:8002/graphql"
    # a guest cart lives this long after its last change; a signed-in shopper's much longer
    cart_guest_ttl_s: int = Field(default=30 * DAY_S, ge=60)
    cart_user_ttl_s: int = Field(default=180 * DAY_S, ge=60)
    # bounds: units of one line, distinct lines (cart and saved-for-later each), coupons
    cart_max_line_quantity: int = Field(default=99, ge=1, le=10_000)
    cart_max_lines: int = Field(default=50, ge=1, le=500)
    cart_max_coupons: int = Field(default=3, ge=1, le=10)
    # one currency per cart; lines priced otherwise are refused
    cart_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    # flat shipping fee in minor units (free-shipping offers waive it)
    cart_shipping_fee: int = Field(default=599, ge=0)
    # offers are read from the store at most this often per replica
    cart_offers_cache_s: float = Field(default=2.0, ge=0, le=300)
    # the catalog's events: durable consumer name and where a new one starts
    cart_consumer_name: str = Field(default="cart-prices", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    cart_consumer_deliver: Deliver = "all"
