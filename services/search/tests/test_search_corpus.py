"""Search quality on a fixed corpus: relevance, facets, filters, sorts, paging, suggest.

The corpus: 11 live products, one archived, a 2-root category tree.

Ids are chosen so that ties (same price) sort predictably by id. Counts worked out by hand
(used by the facet tests; OUT = OUT_OF_STOCK, BT = Bluetooth):

| product | brand | category | min price | availability | sellers | Color | Connect. |
|---|---|---|---|---|---|---|---|
| h1 Sonora Wireless Headphones | Sonora | Headphones | 9500 | IN_STOCK | s1 s2 | Black | BT |
| h2 Basswell Studio Headphones | Basswell | Headphones | 14900 | OUT | s1 | White | Wired |
| h3 Aurelia Travel Earbuds | Aurelia | Headphones | 4900 | IN_STOCK | s3 | Black | BT |
| h4 Aurelia Travel Earbuds | Aurelia | Headphones | 4900 | OUT | s3 | Black | BT |
| s1 Sonora Portable Speaker | Sonora | Speakers | 5900 | IN_STOCK | s2 | Black | BT |
| s2 Echolot Bookshelf Speakers | Echolot | Speakers | 12900 | PREORDER | s3 | Walnut | Wired |
| p1 Kestrel Pro Max Smartphone | Kestrel | Phones | 99900 | IN_STOCK | s1 | Black | |
| p2 Kestrel Max Smartphone Pro | Kestrel | Phones | 99900 | IN_STOCK | s1 | Black | |
| k1 Travel Mug | Tundra | Kitchen | 1900 | IN_STOCK | s2 | Black | |
| k2 Tundra Water Bottle (popular) | Tundra | Kitchen | 2500 | IN_STOCK | s2 s3 | Green | |
| k3 Tundra Water Bottle | Tundra | Kitchen | 2500 | IN_STOCK | s2 s3 | Green | |
| x1 Sonora Vintage Headphones | archived | | | | | | |
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import opensearchpy
import pytest
from asgi_lifespan import LifespanManager
from emporium_search.app import create_app
from emporium_search.indexer import Indexer
from emporium_search.models import CategoryView, ProductView
from fastapi import FastAPI

pytestmark = pytest.mark.integration

ELECTRONICS, AUDIO, HEADPHONES, SPEAKERS, PHONES = "cE", "cA", "cH", "cS", "cP"
HOME, KITCHEN = "cM", "cK"

CATEGORIES = [
    CategoryView(id=ELECTRONICS, name="Electronics", version=1),
    CategoryView(id=AUDIO, name="Audio", parent_id=ELECTRONICS, ancestors=[ELECTRONICS], version=1),
    CategoryView(
        id=HEADPHONES,
        name="Headphones",
        parent_id=AUDIO,
        ancestors=[ELECTRONICS, AUDIO],
        version=1,
    ),
    CategoryView(
        id=SPEAKERS, name="Speakers", parent_id=AUDIO, ancestors=[ELECTRONICS, AUDIO], version=1
    ),
    CategoryView(
        id=PHONES, name="Phones", parent_id=ELECTRONICS, ancestors=[ELECTRONICS], version=1
    ),
    CategoryView(id=HOME, name="Home", version=1),
    CategoryView(id=KITCHEN, name="Kitchen", parent_id=HOME, ancestors=[HOME], version=1),
]

_EPOCH = datetime(2025, 3, 1, tzinfo=UTC)


def _usd(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "USD"}


def _product(  # noqa: PLR0917 (one row of the corpus table)
    index: int,
    product_id: str,
    name: str,
    brand: str,
    category: str,
    price: int,
    sellers: dict[str, int],
    availability: str,
    attributes: dict[str, str],
    description: str,
    status: str = "ACTIVE",
) -> ProductView:
    data: dict[str, Any] = {
        "id": product_id,
        "name": name,
        "description": description,
        "brand": brand,
        "category_id": category,
        "owner_seller_id": next(iter(sellers)),
        "price": _usd(price),
        "listings": [
            {"seller_id": s, "price": _usd(p), "availability": availability}
            for s, p in sellers.items()
        ],
        "attributes": [{"name": k, "value": v} for k, v in attributes.items()],
        "availability": availability,
        "status": status,
        "version": 1,
        "created_at": _EPOCH + timedelta(days=index),
    }
    return ProductView.model_validate(data)


BLACK_BT = {"Color": "Black", "Connectivity": "Bluetooth"}
EARBUDS = "Compact earbuds for commuting."
PHONE = "Flagship phone with a large display."
BOTTLE = "Insulated bottle."

PRODUCTS = [
    _product(
        0,
        "h1",
        "Sonora Wireless Headphones",
        "Sonora",
        HEADPHONES,
        9900,
        {"s1": 9500, "s2": 9900},
        "IN_STOCK",
        BLACK_BT,
        "Over-ear wireless headphones with noise cancelling.",
    ),
    _product(
        1,
        "h2",
        "Basswell Studio Headphones",
        "Basswell",
        HEADPHONES,
        14900,
        {"s1": 14900},
        "OUT_OF_STOCK",
        {"Color": "White", "Connectivity": "Wired"},
        "Closed-back studio monitoring headphones.",
    ),
    _product(
        2,
        "h3",
        "Aurelia Travel Earbuds",
        "Aurelia",
        HEADPHONES,
        4900,
        {"s3": 4900},
        "IN_STOCK",
        BLACK_BT,
        EARBUDS,
    ),
    _product(
        3,
        "h4",
        "Aurelia Travel Earbuds",
        "Aurelia",
        HEADPHONES,
        4900,
        {"s3": 4900},
        "OUT_OF_STOCK",
        BLACK_BT,
        EARBUDS,
    ),
    _product(
        4,
        "s1",
        "Sonora Portable Speaker",
        "Sonora",
        SPEAKERS,
        5900,
        {"s2": 5900},
        "IN_STOCK",
        BLACK_BT,
        "Splash-proof speaker for the garden.",
    ),
    _product(
        5,
        "s2",
        "Echolot Bookshelf Speakers",
        "Echolot",
        SPEAKERS,
        12900,
        {"s3": 12900},
        "PREORDER",
        {"Color": "Walnut", "Connectivity": "Wired"},
        "A pair of passive bookshelf speakers.",
    ),
    _product(
        6,
        "p1",
        "Kestrel Pro Max Smartphone",
        "Kestrel",
        PHONES,
        99900,
        {"s1": 99900},
        "IN_STOCK",
        {"Color": "Black"},
        PHONE,
    ),
    _product(
        7,
        "p2",
        "Kestrel Max Smartphone Pro",
        "Kestrel",
        PHONES,
        99900,
        {"s1": 99900},
        "IN_STOCK",
        {"Color": "Black"},
        PHONE,
    ),
    _product(
        8,
        "k1",
        "Travel Mug",
        "Tundra",
        KITCHEN,
        1900,
        {"s2": 1900},
        "IN_STOCK",
        {"Color": "Black"},
        "Keeps coffee hot; fits in a bag next to your headphones.",
    ),
    _product(
        9,
        "k2",
        "Tundra Water Bottle",
        "Tundra",
        KITCHEN,
        2900,
        {"s2": 2900, "s3": 2500},
        "IN_STOCK",
        {"Color": "Green"},
        BOTTLE,
    ),
    _product(
        10,
        "k3",
        "Tundra Water Bottle",
        "Tundra",
        KITCHEN,
        2900,
        {"s2": 2900, "s3": 2500},
        "IN_STOCK",
        {"Color": "Green"},
        BOTTLE,
    ),
    _product(
        11,
        "x1",
        "Sonora Vintage Headphones",
        "Sonora",
        HEADPHONES,
        19900,
        {"s1": 19900},
        "IN_STOCK",
        BLACK_BT,
        "Retired model.",
        status="ARCHIVED",
    ),
]

POPULARITY = {"k2": 40.0}
LIVE_IDS = [p.id for p in PRODUCTS if p.status != "ARCHIVED"]


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
async def corpus_app(
    settings_for: Callable[..., Any], session_id: str, opensearch: opensearchpy.AsyncOpenSearch
) -> AsyncIterator[FastAPI]:
    """A query-only search app over the corpus, written straight through the indexer."""
    settings = settings_for(
        search_index_alias=f"products_t{session_id}_corpus",
        search_indexing_enabled=False,
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
        indexer = Indexer(app.state.search.store, app.state.search.names)
        await indexer.admin.bootstrap()
        await indexer.put_categories(CATEGORIES)
        await indexer.upsert(PRODUCTS, popularity=POPULARITY)
        await indexer.admin.refresh(settings.search_index_alias)
        yield app


@pytest.fixture(scope="module")
async def gql(corpus_app: FastAPI, gql_client: Callable[..., Any]) -> AsyncIterator[Any]:
    transport = httpx.ASGITransport(app=corpus_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://search") as client:
        yield gql_client(client)


SEARCH = """
query Search(
  $query: String, $filter: SearchFilter, $sort: SearchSort, $first: Int, $after: String
) {
  search(query: $query, filter: $filter, sort: $sort, first: $first, after: $after) {
    edges { cursor score node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
    didYouMean
  }
}
"""

FACETS = """
query Facets($query: String, $filter: SearchFilter) {
  search(query: $query, filter: $filter, first: 50) {
    totalCount
    edges { node { id } }
    facets {
      categories { category { id } count }
      brands { value count selected }
      sellers { value count selected }
      availability { value count selected }
      priceRanges { from to count selected }
      attributes { name values { value count selected } }
    }
  }
}
"""


async def ids(gql: Any, query: str | None = None, **variables: Any) -> list[str]:
    data = await gql.ok(SEARCH, {"query": query, "first": 50, **variables})
    return [edge["node"]["id"] for edge in data["search"]["edges"]]


def counts(values: list[dict[str, Any]]) -> dict[str, int]:
    return {v["value"]: v["count"] for v in values}


# ------------------------------------------------------------------------------ relevance


async def test_exact_name_match_outranks_description_only_match(gql: Any) -> None:
    found = await ids(gql, "headphones")
    # names h1/h2; category "Headphones" h3/h4; description only: the travel mug k1
    assert sorted(found) == ["h1", "h2", "h3", "h4", "k1"]
    assert found[0] == "h1"
    assert found[-1] == "k1"
    assert found.index("h2") < found.index("k1")


async def test_a_typo_still_finds_the_product(gql: Any) -> None:
    assert set(await ids(gql, "hedphones")) >= {"h1", "h2"}
    assert set(await ids(gql, "sonnora")) == {"h1", "s1"}


async def test_stemming_matches_other_word_forms(gql: Any) -> None:
    assert set(await ids(gql, "speakers")) == {"s1", "s2"}  # "Speaker" and "Speakers"
    assert await ids(gql, "mugs") == ["k1"]
    assert set(await ids(gql, "headphone")) >= {"h1", "h2"}


async def test_in_stock_outranks_out_of_stock_at_equal_relevance(gql: Any) -> None:
    data = await gql.ok(SEARCH, {"query": "aurelia earbuds"})
    edges = data["search"]["edges"]
    assert [e["node"]["id"] for e in edges] == ["h3", "h4"]
    assert edges[0]["score"] == pytest.approx(edges[1]["score"] * 1.5, rel=1e-4)


async def test_phrase_match_ranks_higher(gql: Any) -> None:
    assert await ids(gql, "pro max") == ["p1", "p2"]  # same words; only p1 has the phrase
    assert await ids(gql, "max pro") == ["p2", "p1"]


async def test_popularity_breaks_a_tie(gql: Any) -> None:
    assert await ids(gql, "water bottle") == ["k2", "k3"]


async def test_archived_products_never_appear(gql: Any) -> None:
    data = await gql.ok(SEARCH, {"query": "vintage"})
    assert data["search"]["totalCount"] == 0
    assert data["search"]["didYouMean"] is None
    assert "x1" not in await ids(gql)


async def test_did_you_mean_for_a_zero_result_query(gql: Any) -> None:
    data = await gql.ok(SEARCH, {"query": "xonora"})
    assert data["search"]["totalCount"] == 0
    assert data["search"]["didYouMean"] == "sonora"
    data = await gql.ok(SEARCH, {"query": "sonora"})
    assert data["search"]["didYouMean"] is None


async def test_any_query_string_is_safe(gql: Any) -> None:
    for text in [
        '{"match_all": {}}',
        "*:* OR name:(a OR b)",
        '"unbalanced ( [ { \\ /',
        "<script>alert(1)</script>",
        "'; DROP TABLE products; --",
        "speaker~2 AND headphones^10",
    ]:
        data = await gql.ok(SEARCH, {"query": text})
        assert data["search"]["totalCount"] >= 0


# --------------------------------------------------------------------------------- facets


async def test_facet_counts_are_exact(gql: Any) -> None:
    data = (await gql.ok(FACETS))["search"]
    facets = data["facets"]
    assert data["totalCount"] == 11
    assert {c["category"]["id"]: c["count"] for c in facets["categories"]} == {
        ELECTRONICS: 8,
        HOME: 3,
    }
    assert counts(facets["brands"]) == {
        "Tundra": 3,
        "Aurelia": 2,
        "Kestrel": 2,
        "Sonora": 2,
        "Basswell": 1,
        "Echolot": 1,
    }
    assert counts(facets["sellers"]) == {"s1": 4, "s2": 5, "s3": 5}
    assert counts(facets["availability"]) == {"IN_STOCK": 8, "OUT_OF_STOCK": 2, "PREORDER": 1}
    assert [(p["from"], p["to"], p["count"]) for p in facets["priceRanges"]] == [
        (None, 2500, 1),
        (2500, 5000, 4),
        (5000, 10000, 2),
        (10000, 25000, 2),
        (25000, 50000, 0),
        (50000, 100000, 2),
        (100000, None, 0),
    ]
    attributes = {a["name"]: counts(a["values"]) for a in facets["attributes"]}
    assert attributes == {
        "Color": {"Black": 7, "Green": 2, "White": 1, "Walnut": 1},
        "Connectivity": {"Bluetooth": 4, "Wired": 2},
    }


async def test_facets_are_disjunctive(gql: Any) -> None:
    flt = {"brands": ["Sonora"], "attributes": [{"name": "Color", "values": ["Black"]}]}
    data = (await gql.ok(FACETS, {"filter": flt}))["search"]
    facets = data["facets"]
    assert data["totalCount"] == 2
    assert sorted(e["node"]["id"] for e in data["edges"]) == ["h1", "s1"]
    # brands: every filter but the brand one (the Black products' brands)
    assert counts(facets["brands"]) == {"Aurelia": 2, "Kestrel": 2, "Sonora": 2, "Tundra": 1}
    assert [b["value"] for b in facets["brands"] if b["selected"]] == ["Sonora"]
    attributes = {a["name"]: counts(a["values"]) for a in facets["attributes"]}
    # Color: every filter but Color (Sonora's products); Connectivity: every filter
    assert attributes == {"Color": {"Black": 2}, "Connectivity": {"Bluetooth": 2}}
    assert counts(facets["sellers"]) == {"s1": 1, "s2": 2}
    assert {c["category"]["id"]: c["count"] for c in facets["categories"]} == {ELECTRONICS: 2}


async def test_category_facet_drills_into_the_selected_subtree(gql: Any) -> None:
    data = (await gql.ok(FACETS, {"filter": {"categoryId": AUDIO}}))["search"]
    assert data["totalCount"] == 6
    categories = {c["category"]["id"]: c["count"] for c in data["facets"]["categories"]}
    assert categories == {HEADPHONES: 4, SPEAKERS: 2}


async def test_price_facet_ignores_its_own_filter(gql: Any) -> None:
    data = (await gql.ok(FACETS, {"filter": {"minPrice": 2500, "maxPrice": 4999}}))["search"]
    assert sorted(e["node"]["id"] for e in data["edges"]) == ["h3", "h4", "k2", "k3"]
    buckets = {
        (p["from"], p["to"]): (p["count"], p["selected"]) for p in data["facets"]["priceRanges"]
    }
    assert buckets[(2500, 5000)] == (4, True)
    assert buckets[(5000, 10000)] == (2, False)


# -------------------------------------------------------------------------------- filters


async def test_filters(gql: Any) -> None:
    assert sorted(await ids(gql, filter={"categoryId": HEADPHONES})) == ["h1", "h2", "h3", "h4"]
    assert sorted(await ids(gql, filter={"sellerIds": ["s3"]})) == ["h3", "h4", "k2", "k3", "s2"]
    assert sorted(await ids(gql, filter={"availability": ["OUT_OF_STOCK", "PREORDER"]})) == [
        "h2",
        "h4",
        "s2",
    ]
    assert sorted(
        await ids(gql, filter={"attributes": [{"name": "Connectivity", "values": ["Wired"]}]})
    ) == ["h2", "s2"]
    assert sorted(await ids(gql, "speaker", filter={"maxPrice": 10000})) == ["s1"]
    both = {"categoryId": ELECTRONICS, "brands": ["Kestrel", "Basswell"], "minPrice": 20000}
    assert sorted(await ids(gql, filter=both)) == ["p1", "p2"]


# ------------------------------------------------------------------------ sorts and paging

PRICE_ASC = ["k1", "k2", "k3", "h3", "h4", "s1", "h1", "s2", "h2", "p1", "p2"]


async def test_sorts(gql: Any) -> None:
    assert await ids(gql, sort="PRICE_ASC") == PRICE_ASC
    assert await ids(gql, sort="PRICE_DESC") == [
        "p1",
        "p2",
        "h2",
        "s2",
        "h1",
        "s1",
        "h3",
        "h4",
        "k2",
        "k3",
        "k1",
    ]
    newest = [p.id for p in sorted(PRODUCTS, key=lambda p: p.created_at, reverse=True)]
    assert await ids(gql, sort="NEWEST") == [i for i in newest if i in LIVE_IDS]


@pytest.mark.parametrize("sort", ["PRICE_ASC", "RELEVANCE", "NEWEST"])
async def test_search_after_pages_cover_every_hit_once(gql: Any, sort: str) -> None:
    everything = await ids(gql, sort=sort)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        data = await gql.ok(SEARCH, {"sort": sort, "first": 3, "after": after})
        result = data["search"]
        seen += [e["node"]["id"] for e in result["edges"]]
        assert result["pageInfo"]["hasPreviousPage"] is (after is not None)
        assert result["totalCount"] == 11
        pages += 1
        if not result["pageInfo"]["hasNextPage"]:
            break
        after = result["pageInfo"]["endCursor"]
    assert seen == everything
    assert pages == 4


async def test_cursors_are_validated(gql: Any) -> None:
    first = await gql.ok(SEARCH, {"sort": "PRICE_ASC", "first": 2})
    cursor = first["search"]["pageInfo"]["endCursor"]
    for bad, variables in [
        (
            "tampered",
            {"sort": "PRICE_ASC", "after": cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")},
        ),
        ("other sort", {"sort": "PRICE_DESC", "after": cursor}),
        ("other query", {"sort": "PRICE_ASC", "query": "speaker", "after": cursor}),
        ("garbage", {"after": "not-a-cursor"}),
    ]:
        error = await gql.error(SEARCH, variables)
        assert error["extensions"]["code"] == "INVALID_CURSOR", bad
        assert error["extensions"]["field"] == ["after"], bad


# ------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"query": "x" * 201}, "TOO_LONG", ["query"]),
        ({"first": 0}, "GREATER_THAN_EQUAL", ["first"]),
        ({"first": 51}, "LESS_THAN_EQUAL", ["first"]),
        ({"filter": {"brands": [f"b{i}" for i in range(21)]}}, "TOO_LONG", ["filter", "brands"]),
        ({"filter": {"categoryId": "../etc"}}, "INVALID_ID", ["filter", "categoryId"]),
        ({"filter": {"minPrice": 10, "maxPrice": 5}}, "INVALID_PRICE_RANGE", ["filter"]),
        ({"filter": {"minPrice": -1}}, "GREATER_THAN_EQUAL", ["filter", "minPrice"]),
        (
            {"filter": {"attributes": [{"name": f"a{i}", "values": ["v"]} for i in range(11)]}},
            "TOO_LONG",
            ["filter", "attributes"],
        ),
        (
            {"filter": {"attributes": [{"name": "Color", "values": []}]}},
            "TOO_SHORT",
            ["filter", "attributes", 0, "values"],
        ),
    ],
)
async def test_invalid_input_is_rejected_with_the_field(
    gql: Any, variables: dict[str, Any], code: str, field: list[Any]
) -> None:
    error = await gql.error(SEARCH, variables)
    assert error["extensions"]["code"] == "VALIDATION_FAILED"
    assert error["extensions"]["field"] == field
    assert error["extensions"]["errors"][0]["code"] == code


# ------------------------------------------------------------------------------- suggest

SUGGEST = """
query Suggest($prefix: String!, $first: Int) {
  suggest(prefix: $prefix, first: $first) { text kind product { id } }
}
"""


async def test_suggest_completes_partial_words(gql: Any) -> None:
    suggestions = (await gql.ok(SUGGEST, {"prefix": "son"}))["suggest"]
    assert suggestions[0] == {"text": "Sonora", "kind": "BRAND", "product": None}
    products = {s["text"]: s["product"]["id"] for s in suggestions if s["kind"] == "PRODUCT"}
    assert products == {"Sonora Wireless Headphones": "h1", "Sonora Portable Speaker": "s1"}
    suggestions = (await gql.ok(SUGGEST, {"prefix": "wat bot"}))["suggest"]
    assert [s["text"] for s in suggestions] == ["Tundra Water Bottle"]  # two products, one name
    assert (await gql.ok(SUGGEST, {"prefix": "vint"}))["suggest"] == []  # archived
    error = await gql.error(SUGGEST, {"prefix": "   "})
    assert error["extensions"]["field"] == ["prefix"]
