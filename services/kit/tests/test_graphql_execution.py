"""DirectExecutionContext: resolver-free selections completed directly, with results and
errors identical to graphql-core's own executor (each query runs through both)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from ariadne import EnumType, ObjectType, QueryType, ScalarType, make_executable_schema
from emporium_kit.graphql import DirectExecutionContext
from graphql import ExecutionContext, GraphQLSchema, execute, parse

pytestmark = pytest.mark.unit

SDL = """
enum Kind { BRAND SELLER }
scalar Money

type Value { value: String! count: Int! selected: Boolean kind: Kind price: Money }
type Group { name: String! values: [Value!]! tags: [String] }
type Ref { id: ID! }
type Edge { cursor: String! node: Ref! score: Float }
type Shouted { word: String! loud: String! }
type WithArgs { greet(name: String!): String! }

type Facets { groups: [Group!]! refs: [Ref] shouted: [Shouted!]! withArgs: WithArgs }

type Query {
  facets: Facets!
  edges: [Edge!]
  plain: [Group!]!
}
"""


@dataclass
class Point:
    """Not a dict: the default resolver reads attributes."""

    value: str
    count: int


def values(n: int) -> list[dict[str, Any]]:
    return [
        {"value": f"v{i}", "count": i, "selected": i % 2 == 0, "kind": "b", "price": i * 100}
        for i in range(n)
    ]


def build_schema(data: dict[str, Any]) -> GraphQLSchema:
    query = QueryType()
    shouted = ObjectType("Shouted")
    kind = EnumType("Kind", {"BRAND": "b", "SELLER": "s"})
    money = ScalarType("Money")

    @money.serializer
    def serialize_money(value: Any) -> str:
        if not isinstance(value, int):
            raise ValueError(f"not minor units: {value!r}")
        return f"{value / 100:.2f}"

    @shouted.field("loud")
    def resolve_loud(obj: dict[str, Any], *_: Any) -> str:
        return obj["word"].upper()

    @query.field("facets")
    async def resolve_facets(*_: Any) -> Any:
        await asyncio.sleep(0)
        return data["facets"]

    @query.field("edges")
    def resolve_edges(*_: Any) -> Any:
        return data["edges"]

    @query.field("plain")
    def resolve_plain(*_: Any) -> Any:
        return data["plain"]

    return make_executable_schema(SDL, query, shouted, kind, money)


def good_data() -> dict[str, Any]:
    return {
        "facets": {
            "groups": [
                {"name": "Color", "values": values(5), "tags": ["a", None]},
                {"name": "Size", "values": values(2), "tags": None},
            ],
            "refs": [{"id": "p1"}, None, {"id": 7}],
            "shouted": [{"word": "hi"}],
            "withArgs": {"greet": lambda _info, name: f"hello {name}"},
        },
        "edges": [{"cursor": f"c{i}", "node": {"id": f"p{i}"}, "score": 1.5} for i in range(3)],
        "plain": [{"name": "G", "values": values(1), "tags": []}],
    }


FULL = """
query Q($withTags: Boolean!, $skipEdges: Boolean = false) {
  facets {
    __typename
    groups {
      label: name
      ...GroupValues
      tags @include(if: $withTags)
    }
    refs { id __typename }
    shouted { word loud }
    withArgs { greet(name: "Ada") }
  }
  edges @skip(if: $skipEdges) { cursor node { id } score }
  plain { name values { ... on Value { value } } }
}
fragment GroupValues on Group { values { value n: count selected kind price } }
"""


async def run(
    schema: GraphQLSchema,
    query: str,
    variables: dict[str, Any] | None = None,
    context_class: type[ExecutionContext] = DirectExecutionContext,
    document: Any = None,
) -> dict[str, Any]:
    result = execute(
        schema,
        document or parse(query),
        variable_values=variables,
        execution_context_class=context_class,
    )
    if asyncio.iscoroutine(result):
        result = await result
    return {
        "data": result.data,
        "errors": sorted((e.message, tuple(e.path or ())) for e in result.errors or ()),
    }


async def both(
    schema: GraphQLSchema, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    direct = await run(schema, query, variables)
    reference = await run(schema, query, variables, ExecutionContext)
    assert direct == reference
    return direct


class CountingContext(DirectExecutionContext):
    """Counts the fields graphql-core executes itself (the rest went the direct way)."""

    executed = 0

    def execute_field(self, *args: Any, **kwargs: Any) -> Any:
        CountingContext.executed += 1
        return super().execute_field(*args, **kwargs)


async def test_results_match_graphql_core() -> None:
    schema = build_schema(good_data())
    result = await both(schema, FULL, {"withTags": True})
    assert result["errors"] == []
    groups = result["data"]["facets"]["groups"]
    assert groups[0]["label"] == "Color"
    assert groups[0]["tags"] == ["a", None]
    assert groups[0]["values"][3] == {
        "value": "v3",
        "n": 3,
        "selected": False,
        "kind": "BRAND",
        "price": "3.00",
    }
    assert result["data"]["facets"]["__typename"] == "Facets"
    assert result["data"]["facets"]["refs"] == [
        {"id": "p1", "__typename": "Ref"},
        None,
        {"id": "7", "__typename": "Ref"},
    ]
    assert result["data"]["facets"]["shouted"] == [{"word": "hi", "loud": "HI"}]
    assert result["data"]["facets"]["withArgs"] == {"greet": "hello Ada"}


async def test_resolver_free_subtrees_skip_per_field_execution() -> None:
    schema = build_schema(good_data())
    CountingContext.executed = 0
    await run(schema, FULL, {"withTags": True}, CountingContext)
    direct = CountingContext.executed
    reference = 0

    class Reference(ExecutionContext):
        def execute_field(self, *args: Any, **kwargs: Any) -> Any:
            nonlocal reference
            reference += 1
            return super().execute_field(*args, **kwargs)

    await run(schema, FULL, {"withTags": True}, Reference)
    # root and facets fields, groups/refs/edges/plain completed as whole lists; shouted
    # (custom resolver) and withArgs (arguments) go field by field
    assert direct < reference / 4, (direct, reference)


async def test_cached_completers_follow_boolean_variables() -> None:
    """One parsed document, run with different @skip/@include variables."""
    schema = build_schema(good_data())
    document = parse(FULL)
    with_tags = await run(schema, FULL, {"withTags": True}, document=document)
    without = await run(schema, FULL, {"withTags": False, "skipEdges": True}, document=document)
    again = await run(schema, FULL, {"withTags": True}, document=document)
    assert "tags" in with_tags["data"]["facets"]["groups"][0]
    assert "tags" not in without["data"]["facets"]["groups"][0]
    assert "edges" not in without["data"]
    assert again == with_tags


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param(("facets", "groups", 1, "values", 0, "count"), None, id="null-in-non-null"),
        pytest.param(("facets", "groups", 0, "values", 2, "count"), "many", id="bad-int"),
        pytest.param(("facets", "groups", 0, "values", 1, "price"), "1.00", id="scalar-raises"),
        pytest.param(("facets", "groups", 0, "values", 1, "kind"), "x", id="bad-enum"),
        pytest.param(("facets", "groups", 0, "values"), (v for v in ()), id="generator"),
        pytest.param(("facets", "groups", 0), Point("v", 1), id="object-not-dict"),
        pytest.param(("facets", "refs", 0), None, id="null-item-in-nullable-list"),
        pytest.param(("edges", 1, "node"), None, id="null-non-null-object"),
        pytest.param(("edges", 0, "score"), ValueError("boom"), id="exception-value"),
        pytest.param(("plain", 0, "values", 0, "value"), lambda _info: "called", id="callable"),
    ],
)
async def test_unusual_values_take_graphql_cores_path(path: tuple[Any, ...], value: Any) -> None:
    data = good_data()
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    # generators are consumed once: give each executor its own
    if path[-1] == "values" and not isinstance(value, list):
        direct = await run(build_schema(data), FULL, {"withTags": True})
        target[path[-1]] = (v for v in ())
        reference = await run(build_schema(data), FULL, {"withTags": True}, ExecutionContext)
        assert direct == reference
        return
    await both(build_schema(data), FULL, {"withTags": True})
