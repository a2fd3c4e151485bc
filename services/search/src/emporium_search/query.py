"""Query DSL builders and response parsers (pure; the reasons are in docs/search.md).

User text only ever reaches OpenSearch as the ``query`` value of ``match`` /
``multi_match`` / ``match_phrase`` clauses (analysed as text, never parsed as query syntax:
no ``query_string``), and filter values only as ``term(s)`` values, so no input can change
the shape of the query.

- Relevance: exact terms across fields (``cross_fields``, boosts name 4 > brand 3 > category
  2 > attributes 1.5 > description 1), plus a typo-tolerant copy over every field but the
  description (``fuzziness: AUTO``, half weight), plus a phrase bonus on the name; a
  ``rank_feature`` popularity signal; in-stock products multiplied by 1.5
  (``function_score``).
- Facets are disjunctive: every filter goes to ``post_filter`` (hits), and each facet's
  aggregation applies every filter *except its own*, so picking "Sonora" still shows how
  many products the other brands have. The category facet drills down instead: the
  children of the selected category (or the roots), within it.
- Pages use ``search_after`` on a total order (sort key, then id) with an opaque cursor:
  HMAC-signed and bound to the query, filter and sort it came from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from emporium_kit.cursors import CursorMismatchError, Cursors

from emporium_search.models import SearchFilterInput, SearchInput, SearchSort

TEXT_FIELDS = (
    "name^4",
    "brand^3",
    "category.path_names^2",
    "attributes_text^1.5",
    "description",
)
# Typo tolerance on the short fields (everything but the description): fuzzy expansion
# over descriptions cost ~3x the whole rest of the query (measured on the demo catalog).
FUZZY_FIELDS = ("name^4", "brand^3", "category.path_names^2", "attributes_text^1.5")
# up to 3 terms every term must match; beyond that a quarter may be missing
MINIMUM_SHOULD_MATCH = "3<-25%"
FUZZY_WEIGHT = 0.5
PHRASE_BOOST = 3.0
IN_STOCK_BOOST = 1.5
POPULARITY_PIVOT = 10.0

CATEGORY_FACET_SIZE = 50
BRAND_FACET_SIZE = 30
SELLER_FACET_SIZE = 30
ATTRIBUTE_NAMES_SIZE = 20
ATTRIBUTE_VALUES_SIZE = 30
# minor units; a bucket is [from, to)
PRICE_BUCKETS: tuple[tuple[int | None, int | None], ...] = (
    (None, 2500),
    (2500, 5000),
    (5000, 10000),
    (10000, 25000),
    (25000, 50000),
    (50000, 100000),
    (100000, None),
)

LIVE = {"term": {"archived": False}}

SORTS: dict[SearchSort, list[dict[str, Any]]] = {
    SearchSort.RELEVANCE: [{"_score": "desc"}, {"created_at": "desc"}, {"id": "asc"}],
    SearchSort.PRICE_ASC: [{"min_price": "asc"}, {"id": "asc"}],
    SearchSort.PRICE_DESC: [{"min_price": "desc"}, {"id": "asc"}],
    SearchSort.NEWEST: [{"created_at": "desc"}, {"id": "asc"}],
}

# ---------------------------------------------------------------------------------- queries


def text_query(text: str) -> dict[str, Any]:
    return {
        "bool": {
            "should": [
                {
                    "multi_match": {
                        "query": text,
                        "type": "cross_fields",
                        "fields": list(TEXT_FIELDS),
                        "minimum_should_match": MINIMUM_SHOULD_MATCH,
                    }
                },
                {
                    "multi_match": {
                        "query": text,
                        "type": "best_fields",
                        "fields": list(FUZZY_FIELDS),
                        "fuzziness": "AUTO",
                        "prefix_length": 1,
                        "max_expansions": 20,
                        "minimum_should_match": MINIMUM_SHOULD_MATCH,
                        "boost": FUZZY_WEIGHT,
                    }
                },
                {"match_phrase": {"name": {"query": text, "slop": 1, "boost": PHRASE_BOOST}}},
            ],
            "minimum_should_match": 1,
        }
    }


def relevance_query(text: str | None) -> dict[str, Any]:
    """The scored query (no facet filters: those go to post_filter and the aggregations)."""
    return {
        "function_score": {
            "query": {
                "bool": {
                    "must": [text_query(text) if text else {"match_all": {}}],
                    "should": [
                        {
                            "rank_feature": {
                                "field": "popularity",
                                "saturation": {"pivot": POPULARITY_PIVOT},
                            }
                        }
                    ],
                    "filter": [LIVE],
                }
            },
            "functions": [{"filter": {"term": {"in_stock": True}}, "weight": IN_STOCK_BOOST}],
            "score_mode": "multiply",
            "boost_mode": "multiply",
        }
    }


def attribute_key(name: str) -> str:
    return f"attribute:{name}"


def filter_clauses(flt: SearchFilterInput) -> dict[str, dict[str, Any]]:
    """One clause per facet, keyed so a facet's aggregation can leave its own out."""
    clauses: dict[str, dict[str, Any]] = {}
    if flt.category_id:
        clauses["category"] = {"term": {"category.path_ids": flt.category_id}}
    if flt.brands:
        clauses["brand"] = {"terms": {"brand.raw": list(flt.brands)}}
    if flt.seller_ids:
        clauses["seller"] = {"terms": {"seller_ids": list(flt.seller_ids)}}
    if flt.min_price is not None or flt.max_price is not None:
        bounds = {}
        if flt.min_price is not None:
            bounds["gte"] = flt.min_price
        if flt.max_price is not None:
            bounds["lte"] = flt.max_price
        clauses["price"] = {"range": {"min_price": bounds}}
    if flt.availability:
        clauses["availability"] = {"terms": {"availability": [a.value for a in flt.availability]}}
    for attribute in flt.attributes or ():
        clauses[attribute_key(attribute.name)] = {
            "nested": {
                "path": "attributes",
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"attributes.name": attribute.name}},
                            {"terms": {"attributes.value": list(attribute.values)}},
                        ]
                    }
                },
            }
        }
    return clauses


def _all_but(clauses: Mapping[str, dict[str, Any]], *left_out: str) -> dict[str, Any]:
    return {"bool": {"filter": [c for key, c in clauses.items() if key not in left_out]}}


def _terms(field: str, size: int, **extra: Any) -> dict[str, Any]:
    return {"terms": {"field": field, "size": size, **extra}}


def facet_aggregations(
    flt: SearchFilterInput, clauses: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    parent = flt.category_id or ""
    aggs: dict[str, Any] = {
        "categories": {
            "filter": _all_but(clauses),
            "aggs": {
                "values": _terms("category.edges", CATEGORY_FACET_SIZE, include=f"{parent}/.*")
            },
        },
        "brands": {
            "filter": _all_but(clauses, "brand"),
            "aggs": {"values": _terms("brand.raw", BRAND_FACET_SIZE)},
        },
        "sellers": {
            "filter": _all_but(clauses, "seller"),
            "aggs": {"values": _terms("seller_ids", SELLER_FACET_SIZE)},
        },
        "availability": {
            "filter": _all_but(clauses, "availability"),
            "aggs": {"values": _terms("availability", 10)},
        },
        "prices": {
            "filter": _all_but(clauses, "price"),
            "aggs": {
                "values": {
                    "range": {
                        "field": "min_price",
                        "ranges": [
                            {k: v for k, v in (("from", low), ("to", high)) if v is not None}
                            for low, high in PRICE_BUCKETS
                        ],
                    }
                }
            },
        },
        # attributes nobody filters on: every filter applies
        "attributes": {
            "filter": _all_but(clauses),
            "aggs": {
                "nested": {
                    "nested": {"path": "attributes"},
                    "aggs": {
                        "names": {
                            **_terms("attributes.name", ATTRIBUTE_NAMES_SIZE),
                            "aggs": {"values": _terms("attributes.value", ATTRIBUTE_VALUES_SIZE)},
                        }
                    },
                }
            },
        },
    }
    # each filtered attribute again, without its own filter (disjunctive within a name)
    for index, attribute in enumerate(flt.attributes or ()):
        aggs[f"attribute_{index}"] = {
            "filter": _all_but(clauses, attribute_key(attribute.name)),
            "aggs": {
                "nested": {
                    "nested": {"path": "attributes"},
                    "aggs": {
                        "name": {
                            "filter": {"term": {"attributes.name": attribute.name}},
                            "aggs": {"values": _terms("attributes.value", ATTRIBUTE_VALUES_SIZE)},
                        }
                    },
                }
            },
        }
    return aggs


def search_body(
    request: SearchInput, *, after: Sequence[Any] | None = None, facets: bool = True
) -> dict[str, Any]:
    """The ``_search`` body of one page (one extra hit tells whether a next page exists)."""
    clauses = filter_clauses(request.filter)
    body: dict[str, Any] = {
        "size": request.first + 1,
        "track_total_hits": True,
        "_source": False,
        "query": relevance_query(request.query),
        "sort": SORTS[request.sort],
    }
    if clauses:
        body["post_filter"] = _all_but(clauses)
    if facets:
        body["aggs"] = facet_aggregations(request.filter, clauses)
    if after is not None:
        body["search_after"] = list(after)
    return body


def suggest_body(prefix: str, first: int) -> dict[str, Any]:
    """Products whose name words start with the typed words, and matching brands."""
    name_match = {"match": {"name.autocomplete": {"query": prefix, "operator": "and"}}}
    brand_match = {"match": {"brand.autocomplete": {"query": prefix, "operator": "and"}}}
    return {
        "size": first,
        "_source": ["name"],
        "query": {
            "bool": {
                "should": [name_match, brand_match],
                "minimum_should_match": 1,
                "filter": [LIVE],
            }
        },
        "post_filter": name_match,
        "sort": [{"_score": "desc"}, {"in_stock": "desc"}, {"name.raw": "asc"}],
        "collapse": {"field": "name.raw"},
        "aggs": {
            "brands": {
                "filter": brand_match,
                "aggs": {"values": _terms("brand.raw", 3)},
            }
        },
    }


def did_you_mean_body(text: str) -> dict[str, Any]:
    """A phrase suggestion for a query that found nothing; only corrections that would
    find something are offered (``collate``)."""
    return {
        "size": 0,
        "suggest": {
            "text": text,
            "did_you_mean": {
                "phrase": {
                    "field": "spell.shingle",
                    "size": 1,
                    "gram_size": 3,
                    "max_errors": 2,
                    "direct_generator": [
                        {"field": "spell", "suggest_mode": "always", "prefix_length": 0}
                    ],
                    "collate": {
                        "query": {
                            "source": {
                                "match": {"spell": {"query": "{{suggestion}}", "operator": "and"}}
                            }
                        },
                        "prune": False,
                    },
                }
            },
        },
    }


# -------------------------------------------------------------------------------- responses


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    score: float | None
    sort: list[Any]


@dataclass(frozen=True, slots=True)
class Bucket:
    value: str
    count: int


@dataclass(frozen=True, slots=True)
class PriceBucket:
    low: int | None
    high: int | None
    count: int


@dataclass(frozen=True, slots=True)
class Facets:
    categories: list[Bucket]
    brands: list[Bucket]
    sellers: list[Bucket]
    availability: list[Bucket]
    prices: list[PriceBucket]
    attributes: dict[str, list[Bucket]]


def parse_hits(response: Mapping[str, Any], first: int) -> tuple[list[Hit], bool]:
    raw = response["hits"]["hits"]
    hits = [Hit(h["_id"], h.get("_score"), h["sort"]) for h in raw[:first]]
    return hits, len(raw) > first


def _buckets(agg: Mapping[str, Any]) -> list[Bucket]:
    return [Bucket(str(b["key"]), int(b["doc_count"])) for b in agg["values"]["buckets"]]


def parse_facets(response: Mapping[str, Any], flt: SearchFilterInput) -> Facets:
    aggs = response["aggregations"]
    categories = [Bucket(b.value.rsplit("/", 1)[1], b.count) for b in _buckets(aggs["categories"])]
    prices = [
        PriceBucket(
            int(b["from"]) if "from" in b else None,
            int(b["to"]) if "to" in b else None,
            int(b["doc_count"]),
        )
        for b in aggs["prices"]["values"]["buckets"]
    ]
    attributes: dict[str, list[Bucket]] = {
        str(name["key"]): _buckets(name)
        for name in aggs["attributes"]["nested"]["names"]["buckets"]
    }
    for index, attribute in enumerate(flt.attributes or ()):
        attributes[attribute.name] = _buckets(aggs[f"attribute_{index}"]["nested"]["name"])
    return Facets(
        categories=categories,
        brands=_buckets(aggs["brands"]),
        sellers=_buckets(aggs["sellers"]),
        availability=_buckets(aggs["availability"]),
        prices=prices,
        attributes={name: values for name, values in attributes.items() if values},
    )


def parse_did_you_mean(response: Mapping[str, Any]) -> str | None:
    for entry in response.get("suggest", {}).get("did_you_mean", ()):
        for option in entry.get("options", ()):
            if option.get("collate_match", True):
                return str(option["text"])
    return None


# ---------------------------------------------------------------------------------- cursors

# the result list's cursors (emporium_kit.cursors): [fingerprint, search_after values]
RESULT_CURSORS = "search.results"


def fingerprint(request: SearchInput) -> str:
    """What a cursor is bound to: the query, the filter and the sort (not the page size)."""
    canonical = orjson.dumps(
        {"q": request.query, "f": request.filter.model_dump(mode="json"), "s": request.sort.value},
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()[:16]


def encode_cursor(bound_to: str, sort_values: Sequence[Any], *, cursors: Cursors) -> str:
    """A cursor for the hit with these sort values; ``bound_to`` is the request's
    :func:`fingerprint` (computed once per page, not per hit)."""
    return cursors.encode([bound_to, list(sort_values)])


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _valid_values(sort: SearchSort, values: Any) -> bool:
    """The search_after values a sort produces: its keys, then the product id."""
    if not isinstance(values, list) or len(values) != len(SORTS[sort]):
        return False
    *keys, last_id = values
    if not isinstance(last_id, str) or not 0 < len(last_id) <= 64:
        return False
    if sort is SearchSort.RELEVANCE:
        score, created = keys
        return isinstance(score, int | float) and not isinstance(score, bool) and _is_int(created)
    return _is_int(keys[0])


def decode_cursor(text: str, request: SearchInput, *, cursors: Cursors) -> list[Any]:
    """The search_after values of a cursor issued for this same query, filter and sort."""

    def search_after(raw: Any) -> list[Any]:
        values: list[Any]
        bound_to, values = raw
        if bound_to != fingerprint(request):
            raise CursorMismatchError("cursor belongs to a different query, filter or sort")
        if not _valid_values(request.sort, values):
            raise ValueError("not this sort's values")
        return values

    return cursors.decode(text, parse=search_after)
