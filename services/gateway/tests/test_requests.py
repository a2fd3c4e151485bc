"""What a request must look like: operations are POSTed as application/json, so every request
that can change something needs a CORS preflight (CSRF prevention); GET runs queries only."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import httpx
import pytest
from emporium_identity.domain import scopes_for
from emporium_kit.testing import TokenMinter
from emporium_platform.harness import GraphQLClient

from .conftest import error_codes, operation_id

pytestmark = pytest.mark.workflow

CREATE_CATEGORY = "mutation($name: String!) { createCategory(input: {name: $name}) { id } }"


def category_exists(gateway: GraphQLClient, name: str) -> bool:
    slug = name.lower().replace(" ", "-")
    response = gateway.post("query($s: String!) { category(slug: $s) { id } }", {"s": slug})
    assert response.status_code == 200, response.text
    return response.json()["data"]["category"] is not None


def admin(minter: TokenMinter) -> dict[str, str]:
    token = minter.mint("csrf-admin", ["admin"], scopes=scopes_for(["admin"]))
    return {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8"],
)
def test_json_posts_run(gateway: GraphQLClient, content_type: str) -> None:
    response = gateway.http.post(
        gateway.url,
        content=json.dumps({"query": "{ __typename }"}),
        headers={"content-type": content_type},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"__typename": "Query"}


Body = Callable[[str], tuple[str | None, str]]


def form(name: str) -> tuple[str | None, str]:
    fields = {"query": CREATE_CATEGORY, "variables": json.dumps({"name": name})}
    return "application/x-www-form-urlencoded", str(httpx.QueryParams(fields))


def multipart(name: str) -> tuple[str | None, str]:
    operations = json.dumps({"query": CREATE_CATEGORY, "variables": {"name": name}})
    body = (
        '--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        f"{operations}\r\n--x\r\n"
        'Content-Disposition: form-data; name="map"\r\n\r\n{}\r\n--x--\r\n'
    )
    return "multipart/form-data; boundary=x", body


def graphql_document(name: str) -> tuple[str | None, str]:
    document = f'mutation {{ createCategory(input: {{name: "{name}"}}) {{ id }} }}'
    return "application/graphql", document


def json_as(content_type: str | None) -> Body:
    """The JSON operation, declared as ``content_type``."""

    def body(name: str) -> tuple[str | None, str]:
        return content_type, json.dumps({"query": CREATE_CATEGORY, "variables": {"name": name}})

    return body


REFUSED: dict[str, Body] = {
    "form": form,
    "multipart": multipart,
    "text/plain": json_as("text/plain"),
    "no content type": json_as(None),
    "application/graphql": graphql_document,
    "application/graphql+json": json_as("application/graphql+json"),
    "application/graphql-response+json": json_as("application/graphql-response+json"),
    "json in another charset": json_as("application/json; charset=iso-8859-1"),
}


@pytest.mark.parametrize("kind", list(REFUSED))
def test_other_content_types_are_refused_and_run_nothing(
    gateway: GraphQLClient, minter: TokenMinter, kind: str
) -> None:
    """A cross-site form can send these without a preflight; none may run a mutation."""
    name = f"Csrf {uuid.uuid4().hex[:10]}"
    content_type, body = REFUSED[kind](name)
    headers = admin(minter)
    if content_type is not None:
        headers["content-type"] = content_type
    response = gateway.http.post(gateway.url, content=body.encode(), headers=headers)
    assert response.status_code == 415, response.text
    assert error_codes(response) == ["UNSUPPORTED_MEDIA_TYPE"]
    assert not category_exists(gateway, name)


def test_get_runs_queries_but_never_mutations(gateway: GraphQLClient, minter: TokenMinter) -> None:
    query = gateway.http.get(gateway.url, params={"query": "{ __typename }"})
    assert query.status_code == 200
    assert query.json()["data"] == {"__typename": "Query"}

    name = f"Via Get {uuid.uuid4().hex[:10]}"
    mutation = gateway.http.get(
        gateway.url,
        params={"query": CREATE_CATEGORY, "variables": json.dumps({"name": name})},
        headers=admin(minter),
    )
    assert mutation.status_code == 405
    assert mutation.headers["allow"] == "POST"
    # a persisted mutation by id, too
    persisted = gateway.http.get(
        gateway.url,
        params={"documentId": operation_id("CreateProduct"), "variables": json.dumps({})},
        headers=admin(minter),
    )
    assert persisted.status_code == 405
    assert not category_exists(gateway, name)


# --- invalid Unicode ---------------------------------------------------------------------------

CATEGORY_BY_SLUG = "query Category($s: String!) { category(slug: $s) { id } }"
LONE = "\ud800"


def subgraph_fetches(gateway: GraphQLClient) -> float:
    """The gateway's count of HTTP requests to subgraphs."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in httpx.get(gateway.process.metrics_url).text.splitlines()
        if line.startswith("graphql_gateway_fetch_duration_count{")
    )


# json.dumps writes a lone surrogate as the escape \ud800, which JSON.parse accepts
INVALID_BODIES: dict[str, bytes] = {
    "variable value": json.dumps({"query": CATEGORY_BY_SLUG, "variables": {"s": LONE}}).encode(),
    "lone low surrogate": json.dumps(
        {"query": CATEGORY_BY_SLUG, "variables": {"s": "a\udc00b"}}
    ).encode(),
    "reversed pair": json.dumps(
        {"query": CATEGORY_BY_SLUG, "variables": {"s": "\ude00\ud83d"}}
    ).encode(),
    "variable name": json.dumps(
        {"query": CATEGORY_BY_SLUG, "variables": {"s": "x", LONE: "y"}}
    ).encode(),
    "nested in variables": json.dumps(
        {
            "query": "query($f: ProductFilter) { products(filter: $f) { edges { node { id } } } }",
            "variables": {"f": {"brands": ["Acme", LONE]}},
        }
    ).encode(),
    "query": json.dumps({"query": f'{{ category(slug: "{LONE}") {{ id }} }}'}).encode(),
    "operation name": json.dumps(
        {"query": CATEGORY_BY_SLUG, "variables": {"s": "x"}, "operationName": LONE}
    ).encode(),
    "extensions": json.dumps(
        {"query": CATEGORY_BY_SLUG, "variables": {"s": "x"}, "extensions": {"note": LONE}}
    ).encode(),
    "bytes that are not UTF-8": b'{"query": "'
    + CATEGORY_BY_SLUG.encode()
    + b'", "variables": {"s": "\xff\xfe"}}',
    "UTF-8-encoded surrogate": b'{"query": "'
    + CATEGORY_BY_SLUG.encode()
    + b'", "variables": {"s": "\xed\xa0\x80"}}',
}


def assert_invalid_unicode(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert error_codes(response) == ["INVALID_UNICODE"]
    assert "Unicode" in response.json()["errors"][0]["message"]
    assert "data" not in response.json()


@pytest.mark.parametrize("where", list(INVALID_BODIES))
def test_invalid_unicode_is_refused_before_any_subgraph(gateway: GraphQLClient, where: str) -> None:
    fetches = subgraph_fetches(gateway)
    response = gateway.http.post(
        gateway.url, content=INVALID_BODIES[where], headers={"content-type": "application/json"}
    )
    assert_invalid_unicode(response)
    assert subgraph_fetches(gateway) == fetches


def test_invalid_unicode_in_a_get_is_refused(gateway: GraphQLClient) -> None:
    fetches = subgraph_fetches(gateway)
    response = gateway.http.get(
        gateway.url, params={"query": CATEGORY_BY_SLUG, "variables": json.dumps({"s": LONE})}
    )
    assert_invalid_unicode(response)
    assert subgraph_fetches(gateway) == fetches


def test_characters_beyond_the_basic_plane_pass(gateway: GraphQLClient) -> None:
    """The control: a surrogate *pair* is one valid character (json.dumps escapes it too)."""
    body = json.dumps({"query": CATEGORY_BY_SLUG, "variables": {"s": "caf\u00e9-\U0001f600"}})
    assert "\\ud83d\\ude00" in body
    response = gateway.http.post(
        gateway.url, content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"category": None}
