"""Catalog settings: the kit's shared ``EMPORIUM_*`` settings plus ``EMPORIUM_CATALOG_*``."""

from __future__ import annotations

from emporium_kit.events import Deliver
from emporium_kit.settings import ServiceSettings
from pydantic import Field


class CatalogSettings(ServiceSettings):
    service_name: str = "catalog"
    port: int = Field(default=8002, ge=1, le=65535)

    # Product cache: keys are catalog:<namespace>:product:<id>. Bump the namespace when the
    # cached shape changes (old entries then simply expire); tests use a unique one each.
    catalog_cache_namespace: str = Field(default="v1", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    catalog_cache_ttl_s: int = Field(default=300, ge=1, le=86_400)
    catalog_cache_marker_ttl_s: int = Field(default=60, ge=1, le=3600)

    # The relay's safety-net sweep; the service's own writes wake it for their documents at
    # once. On FerretDB 1.24 a sweep decodes every product, so it should stay infrequent.
    catalog_relay_poll_interval_s: float = Field(default=30.0, gt=0, le=600)
    # how long a document must be quiet before the relay removes its published entries (see
    # the kit's OutboxRelay: FerretDB updates are unguarded read-modify-writes)
    catalog_relay_settle_s: float = Field(default=2.0, ge=0, le=60)

    # the inventory's stock levels: durable consumer name and where a new one starts
    catalog_stock_consumer_name: str = Field(
        default="catalog-stock", pattern=r"^[A-Za-z0-9_-]{1,64}$"
    )
    catalog_stock_consumer_deliver: Deliver = "all"
    catalog_stock_consumer_batch_size: int = Field(default=500, ge=1, le=5000)

    # FerretDB 1.24 sorts and filters listings in memory after reading the whole collection
    # (~0.6 s for 2,000 products here); the kit's 2 s default leaves too little headroom.
    mongo_timeout_s: float = Field(default=5.0, gt=0)
