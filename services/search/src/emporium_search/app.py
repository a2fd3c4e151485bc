"""The search service app: ``create_app()`` for tests, module-level ``app`` for uvicorn.

Run locally with ``emporium-search serve`` (port 8003) or ``uvicorn emporium_search.app:app``.

Dependencies: OpenSearch is critical (``/readyz`` fails while it is down: search cannot
answer). NATS and the catalog only feed the index: while one is down searches still work on
the last indexed state, so they are reported but not critical.
"""

from __future__ import annotations

import logging
from functools import partial

import httpx
from emporium_kit import clients
from emporium_kit.app import build_app
from emporium_kit.cursors import Cursors
from emporium_kit.graphql import build_schema
from emporium_kit.resilience import Dependency
from emporium_kit.workers import ConsumerWorker, Outage
from fastapi import FastAPI

from emporium_search import events
from emporium_search.catalog_client import CatalogClient
from emporium_search.indexer import Indexer
from emporium_search.indices import IndexNames
from emporium_search.query import RESULT_CURSORS
from emporium_search.resolvers import SearchContext, bindables, request_context
from emporium_search.settings import SearchSettings


def catalog_client(settings: SearchSettings, http: httpx.AsyncClient) -> CatalogClient:
    dependency = Dependency(
        "catalog",
        timeout_s=settings.http_timeout_s,
        critical=False,
        fail_max=settings.breaker_fail_max,
        reset_timeout_s=settings.breaker_reset_timeout_s,
    )
    return CatalogClient(settings.search_catalog_url, http=http, dependency=dependency)


def create_app(
    settings: SearchSettings | None = None, *, catalog_http: httpx.AsyncClient | None = None
) -> FastAPI:
    """``catalog_http`` replaces the HTTP client used to reach the catalog (tests pass one
    bound to an in-process catalog app); the app closes only a client it created."""
    settings = settings or SearchSettings()
    opensearch = clients.opensearch(settings)
    bus = clients.nats(settings, critical=False)
    http = catalog_http or httpx.AsyncClient(timeout=settings.http_timeout_s)
    catalog = catalog_client(settings, http)
    names = IndexNames(settings.search_index_alias)
    indexer = Indexer(
        opensearch,
        names,
        catalog=catalog,
        shards=settings.search_index_shards,
        replicas=settings.search_index_replicas,
        targets_ttl_s=settings.search_targets_ttl_s,
    )

    # the indexer: the catalog's events in batches, bulk-written (events.handle_batch); no
    # processed-event records: the index's external versions make every write idempotent
    worker = ConsumerWorker(
        settings.search_consumer_name,
        bus=bus,
        processed=None,
        catalog=events.events,
        batch_handler=partial(events.handle_batch, indexer),
        handles=events.HANDLED,
        batch_size=settings.search_consumer_batch_size,
        max_wait_s=settings.search_consumer_max_wait_s,
        replicas=settings.nats_stream_replicas,
        deliver=settings.search_consumer_deliver,
        max_deliver=settings.search_consumer_max_deliver,
        ack_wait_s=settings.search_consumer_ack_wait_s,
        setup=indexer.admin.bootstrap,
        # OpenSearch down: wait (keeping the message) instead of burning delivery attempts
        outage=Outage(
            opensearch.dependency, errors=events.OUTAGE_ERRORS, wait_s=settings.search_outage_wait_s
        ),
    )

    async def close_http() -> None:
        if catalog_http is None:
            await http.aclose()

    cursors = Cursors.from_settings(settings, RESULT_CURSORS)
    context = SearchContext(store=opensearch, names=names, cursors=cursors)
    indexing = settings.search_indexing_enabled
    app = build_app(
        settings=settings,
        schema=build_schema("emporium_search", *bindables),
        clients=[opensearch, bus] if indexing else [opensearch],
        dependencies=[catalog.dependency],
        context=request_context(context),
        workers=[worker] if indexing else [],
        on_shutdown=[close_http],
    )
    # opensearch-py logs every failed request at WARNING with a traceback: during an outage,
    # one per probe. The breaker state, /readyz and the indexer's own warnings report it.
    logging.getLogger("opensearch").setLevel(logging.ERROR)
    app.state.indexer = indexer
    app.state.indexing = worker
    app.state.search = context
    return app


app = create_app()
