"""Persisted operations, production mode, supergraph hot reload, CORS, metrics and tracing."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import pytest
from emporium_platform.harness import GraphQLClient, Stack
from emporium_platform.processes import ensure_gateway_installed, node_binary
from graphql import ObjectTypeDefinitionNode, parse, print_ast

from .conftest import (
    CatalogData,
    OtlpReceiver,
    apollo_hash,
    error_codes,
    manifest,
    operation_id,
    wait_for,
)

pytestmark = pytest.mark.workflow

INTROSPECTION = "query Introspect { __schema { queryType { name } } }"
INTROSPECTION_ID = "introspect-test-only"
EDGES = "edges { node { id } }"
# Persisted only in the test manifest (persisted.mjs would refuse them): each misspells one
# thing, which graphql-js answers with a "Did you mean" suggestion outside production.
MISSPELLED = {
    "field": ("Cannot query field", "query MisspelledField { rootCategories { nmae } }"),
    "argument": (
        "Unknown argument",
        f"query MisspelledArgument {{ products(frist: 1) {{ {EDGES} }} }}",
    ),
    "type": (
        "Unknown type",
        "query MisspelledType($id: Strin!) { product(id: $id) { id } }",
    ),
    "enum value": (
        "does not exist",
        f"query MisspelledEnum {{ products(sort: PRICE_AS) {{ {EDGES} }} }}",
    ),
    "input field": (
        "is not defined by type",
        f'query MisspelledInput {{ products(filter: {{categryId: "x"}}) {{ {EDGES} }} }}',
    ),
}


# --- persisted operations --------------------------------------------------------------------


def test_persisted_operation_by_apollo_hash(
    gateway: GraphQLClient, catalog_data: CatalogData
) -> None:
    response = gateway.post(
        variables={"id": catalog_data.product_id}, extensions=apollo_hash("ProductById")
    )
    assert response.status_code == 200, response.text
    product = response.json()["data"]["product"]
    assert product["id"] == catalog_data.product_id
    assert product["price"] == {"amount": 129_900, "currency": "USD", "formatted": "$1,299.00"}


def test_persisted_operation_by_document_id(
    gateway: GraphQLClient, catalog_data: CatalogData
) -> None:
    response = gateway.post(
        variables={"slug": catalog_data.product_slug}, documentId=operation_id("ProductBySlug")
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["productBySlug"]["id"] == catalog_data.product_id


def test_unknown_persisted_operation_is_rejected(gateway: GraphQLClient) -> None:
    response = gateway.post(
        extensions={"persistedQuery": {"version": 1, "sha256Hash": secrets.token_hex(32)}}
    )
    assert error_codes(response) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert "data" not in response.json()


def test_development_accepts_documents_and_introspection(gateway: GraphQLClient) -> None:
    response = gateway.post(INTROSPECTION)
    assert response.json()["data"] == {"__schema": {"queryType": {"name": "Query"}}}


@pytest.fixture(scope="module")
def production_gateway(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> GraphQLClient:
    """Production mode, with a manifest that also persists an introspection query."""
    extended = manifest()
    extended["operations"].append(
        {
            "id": INTROSPECTION_ID,
            "name": "Introspect",
            "type": "query",
            "body": INTROSPECTION,
        }
    )
    for kind, (_, body) in MISSPELLED.items():
        extended["operations"].append(
            {"id": f"misspelled-{kind}", "name": kind, "type": "query", "body": body}
        )
    path = tmp_path_factory.mktemp("production") / "persisted-operations.json"
    path.write_text(json.dumps(extended))
    return stack.gateway(
        "gateway-production",
        EMPORIUM_ENVIRONMENT="production",
        EMPORIUM_PERSISTED_OPERATIONS_PATH=str(path),
    )


def test_production_serves_persisted_operations(
    production_gateway: GraphQLClient, catalog_data: CatalogData
) -> None:
    response = production_gateway.post(
        variables={"id": catalog_data.product_id}, extensions=apollo_hash("ProductById")
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["product"]["id"] == catalog_data.product_id


def test_production_refuses_arbitrary_documents(
    production_gateway: GraphQLClient, catalog_data: CatalogData
) -> None:
    response = production_gateway.post(
        "query($id: ID!) { product(id: $id) { id } }", {"id": catalog_data.product_id}
    )
    assert error_codes(response) == ["PERSISTED_QUERY_ONLY"]
    assert "data" not in response.json()


def test_production_refuses_introspection_even_when_persisted(
    production_gateway: GraphQLClient,
) -> None:
    response = production_gateway.post(documentId=INTROSPECTION_ID)
    body = response.json()
    assert body.get("data") is None
    assert "introspection" in body["errors"][0]["message"].lower()


@pytest.mark.parametrize("kind", list(MISSPELLED))
def test_production_suggests_nothing_for_misspelled_documents(
    production_gateway: GraphQLClient, gateway: GraphQLClient, kind: str
) -> None:
    """The same document in development gets the suggestion (the control)."""
    expected, body = MISSPELLED[kind]
    development = gateway.post(body, {"id": "x"})
    assert "Did you mean" in development.text, development.text

    response = production_gateway.post(variables={"id": "x"}, documentId=f"misspelled-{kind}")
    message = response.json()["errors"][0]["message"]
    assert expected in message
    assert "Did you mean" not in response.text, response.text


@pytest.mark.parametrize(
    "variables",
    [{"sort": "PRICE_AS"}, {"filter": {"categryId": "x"}}, {"filter": {"minPrice": "cheap"}}],
    ids=["enum value", "input field", "scalar"],
)
def test_production_suggests_nothing_for_misspelled_variables(
    production_gateway: GraphQLClient, gateway: GraphQLClient, variables: dict[str, Any]
) -> None:
    """What a production client can reach: the variables of a persisted operation."""
    development = gateway.post(variables=variables, extensions=apollo_hash("ProductList"))
    assert development.json()["errors"][0]["message"].startswith("Variable ")

    response = production_gateway.post(variables=variables, extensions=apollo_hash("ProductList"))
    errors = response.json()["errors"]
    assert errors[0]["message"].startswith("Variable ")
    assert "Did you mean" not in response.text, response.text
    assert (
        errors[0]["message"] == development.json()["errors"][0]["message"].split(" Did you mean")[0]
    )


# --- hot reload ------------------------------------------------------------------------------


def without_query_field(sdl: str, field: str) -> str:
    document = parse(sdl)
    for definition in document.definitions:
        if isinstance(definition, ObjectTypeDefinitionNode) and definition.name.value == "Query":
            definition.fields = tuple(f for f in definition.fields if f.name.value != field)
    return print_ast(document)


def compose(config: dict[str, Any], work: Path) -> Path:
    gateway_dir = ensure_gateway_installed()
    (work / "subgraphs.json").write_text(json.dumps(config))
    out = work / "supergraph.graphql"
    result = subprocess.run(
        [
            str(node_binary()),
            "compose.mjs",
            "--config",
            str(work / "subgraphs.json"),
            "--out",
            str(out),
        ],
        cwd=gateway_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return out


def test_a_new_supergraph_is_served_without_restart(stack: Stack, tmp_path: Path) -> None:
    gateway_dir = ensure_gateway_installed()
    config = json.loads((gateway_dir / "subgraphs.json").read_text())
    for subgraph in config["subgraphs"]:
        subgraph["schema"] = str((gateway_dir / subgraph["schema"]).resolve())
    catalog = next(s for s in config["subgraphs"] if s["name"] == "catalog")
    pattern = Path(catalog["schema"])
    sdl = "\n".join(f.read_text() for f in sorted(pattern.parent.glob(pattern.name)))
    (tmp_path / "catalog.graphql").write_text(without_query_field(sdl, "sellers"))
    catalog["schema"] = str(tmp_path / "catalog.graphql")
    old = compose(config, tmp_path)
    served = tmp_path / "served.graphql"
    served.write_text(old.read_text())

    gateway = stack.gateway("gateway-reload", EMPORIUM_SUPERGRAPH_PATH=str(served))
    pid = gateway.process.pid
    before = gateway.post("{ sellers { id } }")
    assert before.json()["errors"][0]["message"].startswith('Cannot query field "sellers"')

    # what compose.mjs does too: a complete new file renamed over the served one
    staged = tmp_path / "staged.graphql"
    staged.write_text((gateway_dir / "supergraph.graphql").read_text())
    os.replace(staged, served)

    def sellers_served() -> bool:
        response = gateway.post("{ sellers { id } }")
        return response.status_code == 200 and "errors" not in response.json()

    wait_for(sellers_served, timeout=60, what="the gateway to serve Query.sellers")
    assert gateway.process.running()
    assert gateway.process.pid == pid


# --- CORS, metrics, tracing ------------------------------------------------------------------


def test_cors_allows_only_configured_origins(gateway: GraphQLClient) -> None:
    def preflight(origin: str) -> httpx.Response:
        return gateway.http.options(
            gateway.url,
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type,authorization",
            },
        )

    allowed = preflight("https://shop.example")
    assert allowed.status_code in (200, 204)
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()

    refused = preflight("https://evil.example")
    assert refused.headers.get("access-control-allow-origin") != "https://evil.example"


def test_metrics_count_requests_per_subgraph(
    gateway: GraphQLClient, catalog_data: CatalogData
) -> None:
    gateway.post("query MetricsProbe { rootCategories { id } }")
    metrics = httpx.get(gateway.process.metrics_url)
    assert metrics.status_code == 200
    lines = metrics.text.splitlines()
    subgraph = [
        line
        for line in lines
        if line.startswith("graphql_gateway_subgraph_execute_duration_count{")
        and 'subgraphName="catalog"' in line
        and 'operationName="MetricsProbe"' in line
    ]
    assert subgraph, "no subgraph metric for MetricsProbe"
    assert float(subgraph[0].rsplit(" ", 1)[1]) >= 1
    assert any(line.startswith("graphql_envelop_request_duration_count") for line in lines)


def test_one_trace_spans_gateway_and_subgraph(
    gateway: GraphQLClient, otlp: OtlpReceiver, catalog_data: CatalogData
) -> None:
    trace_id = secrets.token_hex(16)
    client_span = secrets.token_hex(8)
    # urllib, not httpx: once any app was built in this test process, the kit's httpx
    # instrumentation rewrites traceparent with the (absent) current span's context
    request = urllib.request.Request(
        gateway.url,
        data=json.dumps(
            {
                "query": "query TracedProduct($id: ID!) { product(id: $id) { id name } }",
                "variables": {"id": catalog_data.product_id},
            }
        ).encode(),
        headers={
            "content-type": "application/json",
            "traceparent": f"00-{trace_id}-{client_span}-01",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200, response.read()

    def both_sides() -> tuple[list[Any], list[Any]] | None:
        spans = [s for s in otlp.spans() if s.trace_id == trace_id]
        gateway_spans = [s for s in spans if s.service == "emporium-gateway"]
        catalog_spans = [s for s in spans if s.service == "emporium-catalog"]
        return (gateway_spans, catalog_spans) if gateway_spans and catalog_spans else None

    gateway_spans, catalog_spans = wait_for(both_sides, 30, "spans from gateway and catalog")
    gateway_ids = {s.span_id for s in gateway_spans}
    # the gateway continued the client's trace, and the catalog's server span is a child of
    # the gateway's outgoing request span
    assert any(s.parent_span_id == client_span for s in gateway_spans)
    assert any(s.parent_span_id in gateway_ids for s in catalog_spans)
