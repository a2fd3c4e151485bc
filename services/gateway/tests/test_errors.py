"""What clients see when a subgraph fails: a code and a safe message, in development and in
production, never the subgraph's URL, the subgraph request (with the caller's variables), its
response or a stack. Metrics are served on their own port, not the client's."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from emporium_kit.testing import BlackHole
from emporium_platform.harness import GraphQLClient, Stack
from emporium_platform.processes import free_port

from .conftest import apollo_hash

pytestmark = pytest.mark.workflow

INTERNAL_EXTENSIONS = {"request", "response", "originalError", "stack", "stacktrace", "exception"}


@pytest.fixture(scope="module")
def hanging_catalog() -> Iterator[str]:
    with BlackHole() as hole:
        yield f"{hole.url}/graphql"


def assert_nothing_internal(response: httpx.Response, *internals: str) -> list[dict[str, Any]]:
    body = response.json()
    errors = body["errors"]
    for error in errors:
        assert error["extensions"].keys().isdisjoint(INTERNAL_EXTENSIONS), error
    for internal in internals:
        assert internal not in response.text, f"{internal!r} in {response.text}"
    return errors


@pytest.mark.parametrize("environment", ["development", "production"])
def test_a_subgraph_timeout_shows_only_a_code_and_the_service(
    stack: Stack, hanging_catalog: str, environment: str
) -> None:
    gateway = stack.gateway(
        f"gateway-hanging-catalog-{environment}",
        EMPORIUM_ENVIRONMENT=environment,
        EMPORIUM_SUBGRAPH_CATALOG_URL=hanging_catalog,
        EMPORIUM_SUBGRAPH_TIMEOUT_MS="300",
    )
    product_id = f"product-{secrets.token_hex(6)}"
    response = gateway.post(variables={"id": product_id}, extensions=apollo_hash("ProductById"))
    assert response.status_code == 504
    (error,) = assert_nothing_internal(
        response,
        hanging_catalog,
        urlsplit(hanging_catalog).netloc,
        product_id,  # the caller's variables, inside the subgraph request
        "$id",
    )
    assert error["message"] == "The catalog service did not answer in time"
    assert error["extensions"] == {"code": "GATEWAY_TIMEOUT", "serviceName": "catalog"}
    assert response.json()["data"] == {"product": None}


def test_an_unreachable_subgraph_shows_only_a_code(
    stack: Stack,
) -> None:
    port = free_port()
    gateway = stack.gateway(
        "gateway-catalog-down", EMPORIUM_SUBGRAPH_CATALOG_URL=f"http://127.0.0.1:{port}/graphql"
    )
    response = gateway.post("{ rootCategories { id } }")
    (error,) = assert_nothing_internal(response, f"127.0.0.1:{port}", "ECONNREFUSED")
    assert error["extensions"]["code"] in ("INTERNAL_SERVER_ERROR", "SUBREQUEST_HTTP_ERROR")


def test_metrics_are_not_served_on_the_client_port(gateway: GraphQLClient) -> None:
    assert httpx.get(f"{gateway.process.url}/metrics").status_code == 404
    metrics = httpx.get(gateway.process.metrics_url)
    assert metrics.status_code == 200
    assert "graphql_envelop_request_duration" in metrics.text
    # the metrics port serves nothing else
    assert httpx.get(gateway.process.metrics_url.replace("/metrics", "/graphql")).status_code == 404
