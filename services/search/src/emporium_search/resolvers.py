"""GraphQL resolvers: validate input, call the service, shape the result.

Errors carry ``extensions: {code, kind, field}`` (the kit's format) with ``field`` the
camelCase input path, e.g. ``["filter", "attributes", 0, "values"]``. The ``search``
resolver looks at what the client selected: aggregations run only when ``facets`` is asked
for, and the "did you mean" request only when ``didYouMean`` is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ariadne import QueryType
from emporium_kit.clients import OpenSearchStore
from emporium_kit.context import RequestContext
from emporium_kit.cursors import Cursors
from emporium_kit.errors import parse_input
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
)
from pydantic import BaseModel

from emporium_search import service
from emporium_search.indices import IndexNames
from emporium_search.models import SearchInput, SuggestInput
from emporium_search.query import Facets

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class SearchContext(RequestContext):
    """What a resolver reads (``SearchContext.of(info)``). Search keeps no per-request
    state, so every request shares one."""

    store: OpenSearchStore
    names: IndexNames
    cursors: Cursors


def request_context(search: SearchContext) -> Callable[[Any], SearchContext]:
    def build(_request: Any) -> SearchContext:
        return search

    return build


def parse(model: type[M], value: dict[str, Any]) -> M:
    """Search input errors always carry VALIDATION_FAILED; the field path says which."""
    return parse_input(model, value, code="VALIDATION_FAILED")


def selected_fields(info: GraphQLResolveInfo) -> set[str]:
    """Names of the fields selected directly under the current field (fragments followed)."""
    names: set[str] = set()

    def walk(selection_set: SelectionSetNode | None) -> None:
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = info.fragments.get(selection.name.value)
                if fragment is not None:
                    walk(fragment.selection_set)

    for node in info.field_nodes:
        walk(node.selection_set)
    return names


def _present(values: dict[str, Any]) -> dict[str, Any]:
    """Arguments with defaults: an explicit null means "the default"."""
    return {key: value for key, value in values.items() if value is not None}


def _values(buckets: Iterable[Any], chosen: Iterable[str] = ()) -> list[dict[str, Any]]:
    picked = set(chosen)
    return [{"value": b.value, "count": b.count, "selected": b.value in picked} for b in buckets]


def _facets(facets: Facets, request: SearchInput) -> dict[str, Any]:
    flt = request.filter
    chosen_attributes = {a.name: a.values for a in flt.attributes or ()}
    return {
        "categories": [{"category": {"id": b.value}, "count": b.count} for b in facets.categories],
        "brands": _values(facets.brands, flt.brands or ()),
        "sellers": _values(facets.sellers, flt.seller_ids or ()),
        "availability": _values(facets.availability, [a.value for a in flt.availability or ()]),
        "price_ranges": [
            {
                "from": b.low,
                "to": b.high,
                "count": b.count,
                "selected": (flt.min_price, flt.max_price)
                == (b.low, b.high - 1 if b.high is not None else None),
            }
            for b in facets.prices
        ],
        "attributes": [
            {"name": name, "values": _values(values, chosen_attributes.get(name, ()))}
            for name, values in facets.attributes.items()
        ],
    }


query = QueryType()


@query.field("search")
async def resolve_search(
    _: Any,
    info: GraphQLResolveInfo,
    *,
    query: str | None = None,
    filter: dict[str, Any] | None = None,
    sort: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> dict[str, Any]:
    request = parse(
        SearchInput,
        _present({"query": query, "filter": filter, "sort": sort, "first": first, "after": after}),
    )
    wanted = selected_fields(info)
    ctx = SearchContext.of(info)
    page = await service.search(
        store=ctx.store,
        names=ctx.names,
        request=request,
        cursors=ctx.cursors,
        facets="facets" in wanted,
        did_you_mean="didYouMean" in wanted,
    )
    edges = [
        {"cursor": h.cursor, "node": {"id": h.product_id}, "score": h.score} for h in page.hits
    ]
    return {
        "edges": edges,
        "page_info": {
            "has_next_page": page.has_next,
            "has_previous_page": page.has_previous,
            "start_cursor": edges[0]["cursor"] if edges else None,
            "end_cursor": edges[-1]["cursor"] if edges else None,
        },
        "total_count": page.total,
        "facets": _facets(page.facets, request) if page.facets is not None else None,
        "did_you_mean": page.did_you_mean,
    }


@query.field("suggest")
async def resolve_suggest(
    _: Any, info: GraphQLResolveInfo, prefix: str, first: int | None = None
) -> list[dict[str, Any]]:
    request = parse(SuggestInput, _present({"prefix": prefix, "first": first}))
    ctx = SearchContext.of(info)
    suggestions = await service.suggest(store=ctx.store, names=ctx.names, request=request)
    return [
        {
            "text": s.text,
            "kind": s.kind,
            "product": {"id": s.product_id} if s.product_id else None,
        }
        for s in suggestions
    ]


bindables = [query]
