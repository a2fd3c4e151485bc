"""Pure logic: documents, query bodies, cursors, input bounds, index names, settings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from emporium_kit.cursors import Cursors
from emporium_kit.errors import ValidationFailed
from emporium_search import query as q
from emporium_search.catalog_client import TREE_QUERY
from emporium_search.documents import (
    CategoryPath,
    category_path,
    min_price,
    product_document,
    product_from_document,
    tombstone,
)
from emporium_search.events import CHANGES, HANDLED, CategoryChanged, events
from emporium_search.indices import IndexNames
from emporium_search.models import CategoryView, ProductView, SearchInput, SearchSort
from graphql import parse
from pydantic import ValidationError

pytestmark = pytest.mark.unit

SECRET = b"unit-test-secret"
CURSORS = Cursors(SECRET, q.RESULT_CURSORS)


def product(**changes: Any) -> ProductView:
    data: dict[str, Any] = {
        "id": "p1",
        "name": "Sonora Wireless Headphones",
        "description": "Over-ear.",
        "brand": "Sonora",
        "category_id": "cH",
        "owner_seller_id": "s0",
        "price": {"amount": 9900, "currency": "USD"},
        "listings": [
            {
                "seller_id": "s1",
                "price": {"amount": 9500, "currency": "USD"},
                "availability": "IN_STOCK",
            },
            {
                "seller_id": "s2",
                "price": {"amount": 100, "currency": "EUR"},
                "availability": "IN_STOCK",
            },
        ],
        "attributes": [{"name": "Color", "value": "Black"}],
        "availability": "IN_STOCK",
        "version": 7,
        "created_at": datetime(2025, 1, 2, tzinfo=UTC),
    }
    return ProductView.model_validate({**data, **changes})


CATEGORIES = {
    "cE": CategoryView(id="cE", name="Electronics", version=1),
    "cA": CategoryView(id="cA", name="Audio", parent_id="cE", ancestors=["cE"], version=1),
    "cH": CategoryView(
        id="cH", name="Headphones", parent_id="cA", ancestors=["cE", "cA"], version=3
    ),
}

# ------------------------------------------------------------------------------- documents


def test_document_carries_what_search_needs() -> None:
    doc = product_document(product(), category_path("cH", CATEGORIES), popularity=12.5)
    assert doc["category"] == {
        "id": "cH",
        "path_ids": ["cE", "cA", "cH"],
        "path_names": ["Electronics", "Audio", "Headphones"],
        "edges": ["/cE", "cE/cA", "cA/cH"],
    }
    assert doc["seller_ids"] == ["s0", "s1", "s2"]
    assert doc["min_price"] == 9500  # the EUR offer is not comparable
    assert doc["base_price"] == 9900
    assert doc["in_stock"] is True
    assert doc["attributes_text"] == ["Color Black"]
    assert doc["popularity"] == 12.5
    assert doc["archived"] is False


def test_no_popularity_signal_means_no_field() -> None:
    assert "popularity" not in product_document(product(), CategoryPath.unknown("cH"))
    assert "popularity" not in product_document(product(), CategoryPath.unknown("cH"), popularity=0)


def test_min_price_without_offers_is_the_base_price() -> None:
    assert min_price(product(listings=[])) == 9900
    assert (
        product_document(product(availability="OUT_OF_STOCK"), CategoryPath.unknown("x"))[
            "in_stock"
        ]
        is False
    )


def test_unknown_category_keeps_its_id_for_filters() -> None:
    path = category_path("cZ", CATEGORIES)
    assert path.ids == ("cZ",)
    assert path.names == ()
    assert path.edges == ["/cZ"]


def test_document_round_trips_to_the_product() -> None:
    original = product()
    doc = product_document(original, category_path("cH", CATEGORIES))
    assert product_from_document(doc, version=7) == original


def test_tombstone_is_minimal() -> None:
    assert tombstone("p1", 9) == {"id": "p1", "version": 9, "archived": True}


# ----------------------------------------------------------------------------------- query


def request(**values: Any) -> SearchInput:
    return SearchInput.model_validate(values)


def test_user_text_is_only_ever_a_match_value() -> None:
    text = '*:* OR {"match_all": {}}'
    body = q.search_body(request(query=text))
    serialized = repr(body)
    assert "query_string" not in serialized
    assert "simple_query_string" not in serialized
    must = body["query"]["function_score"]["query"]["bool"]["must"][0]["bool"]["should"]
    assert must[0]["multi_match"]["query"] == text
    assert must[2]["match_phrase"]["name"]["query"] == text


def test_each_facet_leaves_out_only_its_own_filter() -> None:
    req = request(
        filter={
            "category_id": "cA",
            "brands": ["Sonora"],
            "seller_ids": ["s1"],
            "min_price": 100,
            "availability": ["IN_STOCK"],
            "attributes": [
                {"name": "Color", "values": ["Black"]},
                {"name": "Size", "values": ["L"]},
            ],
        }
    )
    body = q.search_body(req)
    clauses = q.filter_clauses(req.filter)
    assert body["post_filter"]["bool"]["filter"] == list(clauses.values())
    aggs = body["aggs"]

    def applied(name: str) -> list[dict[str, Any]]:
        return aggs[name]["filter"]["bool"]["filter"]

    everything = list(clauses.values())
    assert applied("categories") == everything
    assert applied("attributes") == everything
    for agg, key in [
        ("brands", "brand"),
        ("sellers", "seller"),
        ("prices", "price"),
        ("availability", "availability"),
        ("attribute_0", "attribute:Color"),
        ("attribute_1", "attribute:Size"),
    ]:
        assert applied(agg) == [c for k, c in clauses.items() if k != key], agg
    assert aggs["categories"]["aggs"]["values"]["terms"]["include"] == "cA/.*"


def test_no_filter_no_post_filter_and_roots_for_categories() -> None:
    body = q.search_body(request())
    assert "post_filter" not in body
    assert body["query"]["function_score"]["query"]["bool"]["must"] == [{"match_all": {}}]
    assert body["aggs"]["categories"]["aggs"]["values"]["terms"]["include"] == "/.*"
    assert "aggs" not in q.search_body(request(), facets=False)


def test_blank_query_browses() -> None:
    assert request(query="   ").query is None
    assert request(query="  a\x00b ").query == "a b"


@pytest.mark.parametrize(
    "values",
    [
        {"query": "x" * 201},
        {"first": 51},
        {"filter": {"brands": []}},
        {"filter": {"seller_ids": ["bad id!"]}},
        {
            "filter": {
                "attributes": [{"name": "A", "values": ["1"]}, {"name": "a", "values": ["2"]}]
            }
        },
        {"filter": {"min_price": 5, "max_price": 4}},
        {"filter": {"unknown": 1}},
        {"after": "x" * 513},
    ],
)
def test_input_is_bounded(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SearchInput.model_validate(values)


# --------------------------------------------------------------------------------- cursors


@pytest.mark.parametrize(
    ("sort", "values"),
    [
        (SearchSort.RELEVANCE, [3.25, 1735776000000, "p1"]),
        (SearchSort.PRICE_ASC, [9500, "p1"]),
        (SearchSort.NEWEST, [1735776000000, "p1"]),
    ],
)
def test_cursor_round_trip(sort: SearchSort, values: list[Any]) -> None:
    req = request(sort=sort, query="headphones")
    cursor = q.encode_cursor(q.fingerprint(req), values, cursors=CURSORS)
    assert q.decode_cursor(cursor, req, cursors=CURSORS) == values


def test_cursor_is_bound_to_secret_list_query_filter_and_sort() -> None:
    req = request(sort="PRICE_ASC", query="headphones", filter={"brands": ["Sonora"]})
    cursor = q.encode_cursor(q.fingerprint(req), [9500, "p1"], cursors=CURSORS)
    for other, cursors in [
        (req, Cursors(b"another secret", q.RESULT_CURSORS)),
        (req, Cursors(SECRET, "catalog.products")),
        (request(sort="PRICE_ASC", query="speakers", filter={"brands": ["Sonora"]}), CURSORS),
        (request(sort="PRICE_ASC", query="headphones"), CURSORS),
        (request(sort="PRICE_DESC", query="headphones", filter={"brands": ["Sonora"]}), CURSORS),
    ]:
        with pytest.raises(ValidationFailed) as caught:
            q.decode_cursor(cursor, other, cursors=cursors)
        assert caught.value.code == "INVALID_CURSOR"
        assert caught.value.field == ["after"]
    # the page size is not part of the binding
    assert q.decode_cursor(cursor, req.model_copy(update={"first": 5}), cursors=CURSORS)


@pytest.mark.parametrize(
    "values",
    [[9500], ["9500", "p1"], [True, "p1"], [9500, ""], [9500, 7], [9500.5, "p1"], {"a": 1}],
)
def test_signed_cursor_with_wrong_values_is_rejected(values: Any) -> None:
    req = request(sort="PRICE_ASC")
    cursor = q.encode_cursor(q.fingerprint(req), values, cursors=CURSORS)
    with pytest.raises(ValidationFailed) as caught:
        q.decode_cursor(cursor, req, cursors=CURSORS)
    assert caught.value.message == "cursor is malformed"


# ---------------------------------------------------------------------------------- others


def test_index_names() -> None:
    names = IndexNames("products")
    index = names.new_index(datetime(2025, 6, 1, 12, 30, 5, 123456, tzinfo=UTC))
    assert index == "products_20250601123005123456"
    assert names.is_product_index(index)
    assert names.is_product_index(names.first_index)
    assert names.first_index < index
    assert not names.is_product_index(names.categories)
    assert not names.is_product_index("products_t01abc_20250601123005123456")
    assert names.building == "products_building"


def test_every_consumed_event_has_exactly_one_handler() -> None:
    assert set(HANDLED) == set(events.consumed)
    assert set(CHANGES) | {CategoryChanged.type} == {spec.type for spec in HANDLED}
    assert events.domains == ("catalog",)


def test_category_tree_query_stays_within_the_catalog_depth_limit() -> None:
    node: Any = parse(TREE_QUERY).definitions[0]
    levels = 0
    while True:
        fields = [s for s in node.selection_set.selections if getattr(s, "name", None)]
        nested = [f for f in fields if f.name.value in {"rootCategories", "children"}]
        if not nested:
            break
        levels += 1
        node = nested[0]
    # six category levels (the catalog's maximum) plus `ancestors { id }`: depth 8 <= 12
    assert levels == 6
