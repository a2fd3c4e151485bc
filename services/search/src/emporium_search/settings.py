"""Search settings: the kit's shared ``EMPORIUM_*`` settings plus ``EMPORIUM_SEARCH_*``."""

from __future__ import annotations

from typing import Literal

from emporium_kit.settings import ServiceSettings
from pydantic import Field


class SearchSettings(ServiceSettings):
    service_name: str = "search"
    port: int = Field(default=8003, ge=1, le=65535)

    # Every index name derives from the alias: products_<timestamp> behind `products`,
    # products_building while a rebuild runs, products_categories for the category table.
    # Tests use their own alias so they never touch the local platform's index.
    search_index_alias: str = Field(default="products", pattern=r"^[a-z][a-z0-9_]{0,80}$")
    search_index_shards: int = Field(default=1, ge=1, le=64)
    search_index_replicas: int = Field(default=0, ge=0, le=5)

    # The catalog subgraph, read for partial events and by `emporium-search rebuild`.
    search_catalog_url: str = "http://127.0.0.1:8002/graphql"

    # The indexer: a durable consumer of the catalog stream inside the service process.
    # Query-only replicas (scaled apart from indexing) turn it off.
    search_indexing_enabled: bool = True
    search_consumer_name: str = Field(default="search-indexer", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # "all": a new durable starts at the beginning of the stream (production: nothing
    # retained is skipped); "new": only events published after it was created (tests that
    # share a stream with other suites).
    search_consumer_deliver: Literal["all", "new"] = "all"
    search_consumer_max_deliver: int = Field(default=5, ge=1, le=100)
    search_consumer_ack_wait_s: float = Field(default=30.0, gt=0, le=600)
    # While OpenSearch (or the catalog) is unreachable a handler waits up to this long for it
    # to return before giving the message back (nak): an outage does not burn delivery
    # attempts and so never dead-letters events.
    search_outage_wait_s: float = Field(default=120.0, ge=0, le=3600)
    # How long the indexer trusts its list of indices to write to. A rebuild waits longer
    # than this after announcing its new index, so every writer sees it before the catalog
    # is read (docs/search.md, "Rebuild").
    search_targets_ttl_s: float = Field(default=1.0, gt=0, le=60)
    # The indexer handles events in batches (one bulk write per batch): up to this many,
    # waiting at most max_wait_s after the first for the batch to fill.
    search_consumer_batch_size: int = Field(default=2000, ge=1, le=5000)
    search_consumer_max_wait_s: float = Field(default=0.05, ge=0, le=5)
