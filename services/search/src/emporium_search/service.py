"""The read side: plain async functions, keyword-only, store first.

One search is one OpenSearch request (hits, total and facets together); a query that finds
nothing costs a second, small one for the "did you mean" suggestion. Hits are product ids
only: the gateway resolves the products from the catalog in one batched ``_entities`` call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import opensearchpy
from emporium_kit.clients import OpenSearchStore
from emporium_kit.cursors import Cursors
from emporium_kit.errors import Unavailable

from emporium_search import query as q
from emporium_search.indices import IndexNames
from emporium_search.models import SearchInput, SuggestInput


@dataclass(frozen=True, slots=True)
class SearchHit:
    product_id: str
    score: float | None
    cursor: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[SearchHit]
    has_next: bool
    has_previous: bool
    total: int
    facets: q.Facets | None
    did_you_mean: str | None


@dataclass(frozen=True, slots=True)
class Suggestion:
    text: str
    kind: str  # PRODUCT | BRAND
    product_id: str | None = None


async def _search(store: OpenSearchStore, index: str, body: dict[str, Any]) -> dict[str, Any]:
    """Run a search; OpenSearch being down or overloaded is ``UNAVAILABLE`` for the client
    (an open breaker already is), a bad request stays an internal error (it is our bug)."""
    try:
        async with store.dependency.guard():
            result: dict[str, Any] = await store.client.search(index=index, body=body)
            return result
    except opensearchpy.NotFoundError:
        raise Unavailable(
            "INDEX_NOT_READY", "the search index is not ready yet; retry shortly"
        ) from None
    except opensearchpy.TransportError as exc:
        status = exc.status_code
        if isinstance(exc, opensearchpy.ConnectionError) or status in (429, 502, 503, 504):
            raise Unavailable("SEARCH_UNAVAILABLE", "search is unavailable; retry shortly") from exc
        raise


async def search(
    *,
    store: OpenSearchStore,
    names: IndexNames,
    request: SearchInput,
    cursors: Cursors,
    facets: bool = True,
    did_you_mean: bool = True,
) -> SearchPage:
    """One page of results; ``facets`` / ``did_you_mean`` only when the client asked."""
    after = q.decode_cursor(request.after, request, cursors=cursors) if request.after else None
    body = q.search_body(request, after=after, facets=facets)
    response = await _search(store, names.alias, body)
    hits, has_next = q.parse_hits(response, request.first)
    total = int(response["hits"]["total"]["value"])
    suggestion = None
    if did_you_mean and total == 0 and request.query and after is None:
        suggestion = q.parse_did_you_mean(
            await _search(store, names.alias, q.did_you_mean_body(request.query))
        )
    bound_to = q.fingerprint(request)
    return SearchPage(
        hits=[
            SearchHit(h.id, h.score, q.encode_cursor(bound_to, h.sort, cursors=cursors))
            for h in hits
        ],
        has_next=has_next,
        has_previous=after is not None,
        total=total,
        facets=q.parse_facets(response, request.filter) if facets else None,
        did_you_mean=suggestion,
    )


async def suggest(
    *, store: OpenSearchStore, names: IndexNames, request: SuggestInput
) -> list[Suggestion]:
    """Brands first (at most 3), then product names, ``request.first`` in all."""
    response = await _search(store, names.alias, q.suggest_body(request.prefix, request.first))
    brands = [
        Suggestion(str(b["key"]), "BRAND")
        for b in response["aggregations"]["brands"]["values"]["buckets"]
    ]
    products = [
        Suggestion(h["_source"]["name"], "PRODUCT", h["_id"]) for h in response["hits"]["hits"]
    ]
    return (brands + products)[: request.first]
