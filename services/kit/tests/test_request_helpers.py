"""The request-side helpers every resolvers module uses: build_schema, keyed loaders and the
typed request context."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ariadne import QueryType
from emporium_kit.context import RequestContext, request_of
from emporium_kit.graphql import build_schema
from emporium_kit.loaders import keyed_loader
from graphql import graphql

pytestmark = pytest.mark.unit


async def test_a_keyed_loader_fetches_each_tick_once_with_distinct_keys_in_order() -> None:
    fetched: list[list[str]] = []

    async def fetch(keys: list[str]) -> dict[str, str]:
        fetched.append(list(keys))
        return {key: key.upper() for key in keys if key != "missing"}

    loader = keyed_loader(fetch)
    results = await asyncio.gather(*(loader.load(k) for k in ("b", "a", "b", "missing", "c")))
    assert results == ["B", "A", "B", None, "C"]
    assert fetched == [["b", "a", "missing", "c"]]
    assert await loader.load_many(["a", "d"]) == ["A", "D"]
    assert fetched == [["b", "a", "missing", "c"], ["d"]], "cached keys are not fetched again"


async def test_a_batcher_without_cache_fetches_fresh_in_bounded_batches() -> None:
    fetched: list[list[str]] = []

    async def fetch(keys: list[str]) -> dict[str, str]:
        fetched.append(list(keys))
        return {key: f"{key}{len(fetched)}" for key in keys}

    batcher = keyed_loader(fetch, cache=False, max_batch_size=2)
    assert await asyncio.gather(*(batcher.load(k) for k in "abc")) == ["a1", "b1", "c2"]
    assert await batcher.load("a") == "a3"
    assert fetched == [["a", "b"], ["c"], ["a"]]


@dataclass(frozen=True, slots=True)
class ShopContext(RequestContext):
    shop: str


@dataclass(frozen=True, slots=True)
class OtherContext(RequestContext):
    other: int


class _Info:
    def __init__(self, context: dict[str, Any]) -> None:
        self.context = context


def test_the_request_context_is_read_typed_and_checked() -> None:
    shop = ShopContext("north")
    info: Any = _Info({"service": shop, "request": "the request"})
    assert ShopContext.of(info) is shop
    assert RequestContext.of(info) is shop
    assert request_of(info) == "the request"
    with pytest.raises(TypeError, match="ShopContext, not OtherContext"):
        OtherContext.of(info)
    with pytest.raises(TypeError, match="NoneType"):
        ShopContext.of(_Info({}))  # type: ignore[arg-type]


async def test_build_schema_binds_the_packages_sdl_in_snake_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "schema_pkg_for_test"
    (package / "schema").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "schema" / "shop.graphql").write_text(
        "type Query { productCount(categoryId: ID!): Count! }\ntype Count { totalCount: Int! }"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    query = QueryType()

    @query.field("productCount")
    def resolve(_: Any, _info: Any, category_id: str) -> dict[str, int]:
        return {"total_count": len(category_id)}

    schema = build_schema("schema_pkg_for_test", query)
    result = await graphql(schema, '{ productCount(categoryId: "abc") { totalCount } }')
    assert result.errors is None
    assert result.data == {"productCount": {"totalCount": 3}}
    assert schema.get_type("_Service") is not None, "a federated schema"
