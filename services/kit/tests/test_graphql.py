"""The GraphQL layer: document cache, limits, error rendering, federation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import emporium_kit.graphql as kit_graphql
import graphql
import pytest
from emporium_kit.graphql import DocumentCache, depth_limit_rule, graphql_app, load_sdl
from graphql import GraphQLSchema, get_introspection_query, specified_rules
from starlette.applications import Starlette
from starlette.routing import Route

pytestmark = pytest.mark.unit

PRODUCT_QUERY = '{ product(id: "1") { id name } }'


def asgi(schema: GraphQLSchema, **kwargs: Any) -> Starlette:
    gql = graphql_app(schema, **kwargs)
    app = Starlette(routes=[Route("/graphql", gql.handle_request, methods=["GET", "POST"])])
    app.state.gql = gql
    return app


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the real parse/validate calls the cache makes."""
    counts = {"parse": 0, "validate": 0}
    real_parse, real_validate = kit_graphql.parse, kit_graphql.validate

    def parse(*args: Any, **kwargs: Any) -> Any:
        counts["parse"] += 1
        return real_parse(*args, **kwargs)

    def validate(*args: Any, **kwargs: Any) -> Any:
        counts["validate"] += 1
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(kit_graphql, "parse", parse)
    monkeypatch.setattr(kit_graphql, "validate", validate)
    return counts


async def post(client: Any, query: str, **kwargs: Any) -> Any:
    return await client.post("/graphql", json={"query": query}, **kwargs)


async def test_repeated_query_skips_parse_and_validate(
    schema: GraphQLSchema, counting: dict[str, int], run_app: Any
) -> None:
    app = asgi(schema)
    async with run_app(app) as client:
        for _ in range(5):
            response = await post(client, PRODUCT_QUERY)
            assert response.json() == {"data": {"product": {"id": "1", "name": "product 1"}}}
        assert counting == {"parse": 1, "validate": 1}
        await post(client, '{ product(id: "2") { id } }')
        assert counting == {"parse": 2, "validate": 2}
    cache: DocumentCache = app.state.gql.document_cache
    assert (cache.hits, cache.misses) == (4, 2)


async def test_invalid_query_is_cached_with_its_errors(
    schema: GraphQLSchema, counting: dict[str, int], run_app: Any
) -> None:
    async with run_app(asgi(schema)) as client:
        for _ in range(3):
            response = await post(client, "{ product(id: 1) { nope } }")
            assert response.status_code == 400
            codes = {e["extensions"]["code"] for e in response.json()["errors"]}
            assert codes == {"GRAPHQL_VALIDATION_FAILED"}
    assert counting == {"parse": 1, "validate": 1}


def test_cache_is_bounded_lru(schema: GraphQLSchema) -> None:
    cache = DocumentCache(max_size=2)
    first = cache.parse(None, {"query": "{ a: whoami }"})
    cache.parse(None, {"query": "{ b: whoami }"})
    assert cache.parse(None, {"query": "{ a: whoami }"}) is first  # refreshes "a"
    cache.parse(None, {"query": "{ c: whoami }"})  # evicts "b"
    assert len(cache) == 2
    assert cache.parse(None, {"query": "{ a: whoami }"}) is first
    assert cache.misses == 3
    cache.parse(None, {"query": "{ b: whoami }"})
    assert cache.misses == 4, "b must have been evicted and parsed again"


def test_cache_bounds_the_cached_text() -> None:
    cache = DocumentCache(max_size=100, max_total_chars=60)
    queries = [f"{{ q{i}: whoami {' ' * 10} }}" for i in range(5)]  # 25 characters each
    for query in queries:
        cache.parse(None, {"query": query})
    assert len(cache) == 2, "only as many documents as fit into the character budget"
    cache.parse(None, {"query": queries[-1]})
    assert cache.hits == 1


def test_validation_cached_per_rule_set(schema: GraphQLSchema) -> None:
    cache = DocumentCache()
    deep = "{ category(id: 1) { parent { parent { parent { id } } } } }"
    document = cache.parse(None, {"query": deep})
    assert cache.validate(schema, document, specified_rules) == []
    strict = (*specified_rules, depth_limit_rule(2))
    errors = cache.validate(schema, document, strict)
    assert [e.extensions["code"] for e in errors] == ["QUERY_TOO_DEEP"]


async def test_depth_limit(schema: GraphQLSchema, run_app: Any) -> None:
    async with run_app(asgi(schema, max_depth=3)) as client:
        ok = await post(client, '{ category(id: "a") { parent { id } } }')
        assert ok.json()["data"]["category"]["parent"]["id"] == "a-parent"
        deep = await post(client, '{ category(id: "a") { parent { parent { parent { id } } } } }')
        assert deep.status_code == 400
        assert deep.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"
        via_fragments = await post(
            client,
            'query { category(id: "a") { ...P } } '
            "fragment P on Category { parent { ...Q } } "
            "fragment Q on Category { parent { parent { id } } }",
        )
        assert via_fragments.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"
        introspection = await post(client, get_introspection_query())
        assert introspection.status_code == 200, "introspection fields do not count"


async def test_size_limits(schema: GraphQLSchema, run_app: Any) -> None:
    async with run_app(asgi(schema, max_query_chars=200, max_body_bytes=2000)) as client:
        long_query = "{ whoami " + " " * 300 + "}"
        response = await post(client, long_query)
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_LARGE"
        huge = await client.post(
            "/graphql", json={"query": "{ whoami }", "variables": {"x": "y" * 5000}}
        )
        assert huge.status_code == 400
        assert "too large" in huge.text
        many_tokens = "{ " + " ".join(f"a{i}: whoami" for i in range(3000)) + " }"
        tokens = await post(client, many_tokens)
        assert tokens.status_code == 400


async def test_domain_error_rendering(schema: GraphQLSchema, run_app: Any) -> None:
    async with run_app(asgi(schema)) as client:
        response = await post(client, '{ product(id: "missing") { id } }')
    assert response.headers["content-type"] == "application/json"
    error = response.json()["errors"][0]
    assert error["message"] == "No product missing"
    assert error["path"] == ["product"]
    assert error["extensions"] == {
        "code": "PRODUCT_NOT_FOUND",
        "kind": "NOT_FOUND",
        "field": ["id"],
    }


async def test_internal_errors_hidden_in_production(schema: GraphQLSchema, run_app: Any) -> None:
    async with run_app(asgi(schema, production=True)) as client:
        response = await post(client, "{ boom }")
        error = response.json()["errors"][0]
        assert error["message"] == "Internal server error"
        assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
        assert "hunter2" not in response.text
        introspection = await post(client, "{ __schema { types { name } } }")
        assert introspection.status_code == 400
    async with run_app(asgi(schema, production=False)) as client:
        error = (await post(client, "{ boom }")).json()["errors"][0]
        assert error["extensions"]["exception"] == "RuntimeError"


async def test_federation_v2_service_and_entities(schema: GraphQLSchema, run_app: Any) -> None:
    async with run_app(asgi(schema)) as client:
        sdl = (await post(client, "{ _service { sdl } }")).json()["data"]["_service"]["sdl"]
        assert "https://specs.apollo.dev/federation/v2.6" in sdl
        assert '@key(fields: "id")' in sdl
        entities = await post(
            client,
            '{ _entities(representations: [{__typename: "Product", id: "7"}, '
            '{__typename: "Product", id: "8"}]) { ... on Product { id name } } }',
        )
    assert entities.json() == {
        "data": {"_entities": [{"id": "7", "name": "entity 7"}, {"id": "8", "name": "entity 8"}]}
    }


def test_federation_v2_9_cost_directives_are_accepted() -> None:
    """Ariadne knows Federation up to v2.6; @listSize/@cost (v2.9) must still build."""
    sdl = """
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.9",
                        import: ["@key", "@listSize", "@cost"])
    type Query { items(first: Int = 20): [Item!]! @listSize(slicingArguments: ["first"]) }
    type Item @key(fields: "id") { id: ID! name: String! @cost(weight: 3) }
    """
    schema = kit_graphql.make_federated_schema(sdl)
    assert schema.get_directive("listSize") is not None
    assert schema.get_directive("cost") is not None
    assert schema.query_type is not None
    assert "items" in schema.query_type.fields


def test_load_sdl_joins_files_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "sdl_pkg_for_test"
    (package / "schema").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "schema" / "b.graphql").write_text("type B { id: ID }")
    (package / "schema" / "a.graphql").write_text("type A { id: ID }")
    (package / "schema" / "notes.txt").write_text("ignored")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_sdl("sdl_pkg_for_test") == "type A { id: ID }\n\ntype B { id: ID }"
    (package / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        load_sdl("sdl_pkg_for_test", "empty")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
        None,
    ],
)
async def test_only_json_bodies_run_operations(
    schema: GraphQLSchema, run_app: Any, content_type: str | None
) -> None:
    """What a cross-site form can send without a preflight never reaches execution."""
    headers = {"content-type": content_type} if content_type else {}
    async with run_app(asgi(schema)) as client:
        refused = await client.post("/graphql", content=b'{"query":"{ whoami }"}', headers=headers)
        json_body = await client.post(
            "/graphql",
            content=b'{"query":"{ product(id: \\"1\\") { id } }"}',
            headers={"content-type": "application/json; charset=utf-8"},
        )
    assert refused.status_code == 415
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert json_body.json() == {"data": {"product": {"id": "1"}}}


async def test_invalid_unicode_is_a_clear_400(schema: GraphQLSchema, run_app: Any) -> None:
    body = b'{"query":"query($i: EchoInput!) { echo(input: $i) }","variables":'
    async with run_app(asgi(schema)) as client:
        lone = await client.post(
            "/graphql",
            content=body + b'{"i":{"name":"a\\ud800b"}}}',
            headers={"content-type": "application/json"},
        )
        pair = await client.post(
            "/graphql",
            content=body + b'{"i":{"name":"\\ud83d\\ude00"}}}',
            headers={"content-type": "application/json"},
        )
    assert lone.status_code == 400
    assert lone.json()["errors"][0]["extensions"]["code"] == "INVALID_UNICODE"
    assert pair.json() == {"data": {"echo": "\N{GRINNING FACE}"}}


@pytest.mark.parametrize(
    ("name", "tags", "code_point", "field"),
    [
        ("nul\x00", None, "U+0000", ["i", "name"]),
        ("esc\x1b[31m", None, "U+001B", ["i", "name"]),
        ("ok", ["fine", "rtl\u202egnp.exe"], "U+202E", ["i", "tags", 1]),
        ("del\x7f", None, "U+007F", ["i", "name"]),
        ("c1\x85", None, "U+0085", ["i", "name"]),
    ],
)
async def test_control_characters_in_variables_name_the_field(
    *,
    schema: GraphQLSchema,
    run_app: Any,
    name: str,
    tags: list[str] | None,
    code_point: str,
    field: list[str | int],
) -> None:
    query = "query($i: EchoInput!) { echo(input: $i) }"
    async with run_app(asgi(schema)) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": {"i": {"name": name, "tags": tags}}}
        )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "INVALID_CHARACTERS"
    assert error["extensions"]["field"] == field
    assert code_point in error["message"]


async def test_control_characters_in_literals_name_the_argument(
    schema: GraphQLSchema, run_app: Any
) -> None:
    async with run_app(asgi(schema)) as client:
        bad = await post(client, '{ echo(input: {name: "x\\u0000y"}) }')
        fine = await post(
            client, '{ echo(input: {name: "tab\\tnew\\nline \u05e9\u05dc\u05d5\u05dd"}) }'
        )
    assert bad.status_code == 400
    error = bad.json()["errors"][0]
    assert error["extensions"]["code"] == "INVALID_CHARACTERS"
    assert error["extensions"]["field"] == ["input", "name"]
    assert fine.json() == {"data": {"echo": "tab\tnew\nline \u05e9\u05dc\u05d5\u05dd"}}


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ prodcut(id: 1) { id } }", None),
        ("{ product(idd: 1) { id } }", None),
        ("query($i: EchoInput!) { echo(input: $i) }", {"i": {"nmae": "x"}}),
        ("query($i: EchoInput!) { echo(input: $i) }", {"i": {"name": "x", "color": "REED"}}),
        ('{ echo(input: {name: "x", color: REED}) }', None),
        ("query($i: EchoInpt!) { echo(input: $i) }", {"i": {"name": "x"}}),
    ],
)
async def test_no_suggestions_in_production(
    schema: GraphQLSchema, run_app: Any, query: str, variables: dict[str, Any] | None
) -> None:
    body = {"query": query, "variables": variables or {}}
    async with run_app(asgi(schema, production=True)) as client:
        production = await client.post("/graphql", json=body)
    async with run_app(asgi(schema, production=False)) as client:
        development = await client.post("/graphql", json=body)
    assert "Did you mean" in development.text, "the case must provoke a suggestion"
    assert production.json()["errors"], production.text
    assert "Did you mean" not in production.text
    assert "mean" not in production.text.replace("meaning", "")


@pytest.mark.unit
@pytest.mark.parametrize("version", [(3, 2, 4), (3, 3, 0), (3, 3, 1), (4, 0, 0), (2, 9, 9)])
def test_unsupported_graphql_core_versions_are_refused(version: tuple[int, int, int]) -> None:
    refused = kit_graphql.UnsupportedGraphQLCoreError
    with pytest.raises(refused, match=r"\d+\.\d+\.\d+ is installed"):
        kit_graphql.check_graphql_core(version)


@pytest.mark.unit
def test_importing_the_kit_with_graphql_core_3_3_fails_loudly() -> None:
    """A fresh interpreter whose graphql-core reports 3.3.0 cannot import the module. Ariadne
    (which supports 3.3) is imported first, as it would load under a real 3.3."""
    program = (
        "import ariadne.asgi, ariadne.asgi.handlers, ariadne.contrib.federation\n"
        "import graphql\n"
        "graphql.version_info = graphql.version_info.__class__(3, 3, 0, 'final', 0)\n"
        "import emporium_kit.graphql\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "UnsupportedGraphQLCoreError" in result.stderr
    assert "3.3.0 is installed" in result.stderr


@pytest.mark.unit
def test_the_installed_graphql_core_is_supported() -> None:
    low, high = kit_graphql.GRAPHQL_CORE_SUPPORTED
    installed = graphql.version_info
    assert low <= (installed.major, installed.minor, installed.micro) < high
