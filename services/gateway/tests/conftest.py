"""Fixtures for the gateway tests.

Everything is real: Hive Gateway processes (Node) in front of a catalog subgraph process, run by
the test harness (the ``stacks`` fixture of ``emporium_platform``) on the platform's Redis, NATS
and FerretDB; a JWKS endpoint publishing the keys of the test token minters (identity's role);
an OTLP/HTTP receiver collecting the spans that the gateway and the catalog export.

``stack.gateway(name, **env)`` starts one more gateway with extra ``EMPORIUM_*`` settings; the
stack stops every gateway and the catalog at the end of the session.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from emporium_identity.domain import scopes_for
from emporium_kit.testing import JwksServer, TokenMinter
from emporium_platform.harness import GraphQLClient, Stack, persisted_operations
from emporium_platform.processes import ensure_gateway_installed
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


class _Server:
    """A ThreadingHTTPServer on a free loopback port, served from a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass(frozen=True)
class Span:
    service: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str


class _OtlpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("content-length", "0")))
        # Node's exporter streams the body (chunked); http.server does not decode that
        body = b""
        while size := int(self.rfile.readline().split(b";")[0], 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()
        return body

    def do_POST(self) -> None:
        owner: OtlpReceiver = self.server.owner  # type: ignore[attr-defined]
        body = self._body()
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        owner.ingest(self.headers.get("content-type", ""), body)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        return None


class OtlpReceiver(_Server):
    """An OTLP/HTTP traces endpoint: JSON (the gateway's exporter) or protobuf (Python's)."""

    def __init__(self) -> None:
        self._spans: list[Span] = []
        self._lock = threading.Lock()
        super().__init__(_OtlpHandler)

    def spans(self) -> list[Span]:
        with self._lock:
            return list(self._spans)

    def ingest(self, content_type: str, body: bytes) -> None:
        spans = (
            self._from_json(json.loads(body))
            if "json" in content_type
            else self._from_protobuf(body)
        )
        with self._lock:
            self._spans.extend(spans)

    @staticmethod
    def _from_json(payload: dict[str, Any]) -> list[Span]:
        spans = []
        for resource_spans in payload.get("resourceSpans", []):
            attributes = {
                a["key"]: a["value"].get("stringValue")
                for a in resource_spans.get("resource", {}).get("attributes", [])
            }
            for scope_spans in resource_spans.get("scopeSpans", []):
                for span in scope_spans.get("spans", []):
                    spans.append(
                        Span(
                            service=str(attributes.get("service.name")),
                            trace_id=span["traceId"].lower(),
                            span_id=span["spanId"].lower(),
                            parent_span_id=span.get("parentSpanId", "").lower(),
                            name=span["name"],
                        )
                    )
        return spans

    @staticmethod
    def _from_protobuf(body: bytes) -> list[Span]:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans = []
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(
                        Span(
                            service=attributes.get("service.name", ""),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                        )
                    )
        return spans


def manifest() -> dict[str, Any]:
    """The committed persisted-operation manifest."""
    return json.loads((ensure_gateway_installed() / "persisted-operations.json").read_text())


def operation_id(name: str) -> str:
    return persisted_operations()[name]


def apollo_hash(operation: str) -> dict[str, Any]:
    """The extensions that name a persisted operation by its hash."""
    return {"persistedQuery": {"version": 1, "sha256Hash": operation_id(operation)}}


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def error_codes(response: httpx.Response) -> list[str | None]:
    return [e.get("extensions", {}).get("code") for e in response.json().get("errors", [])]


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    """Identity's ES256 key."""
    return TokenMinter(alg="ES256")


@pytest.fixture(scope="session")
def rsa_minter() -> TokenMinter:
    """A second, RS256 key published in the same JWKS."""
    return TokenMinter(alg="RS256")


@pytest.fixture(scope="session")
def jwks(minter: TokenMinter, rsa_minter: TokenMinter) -> Iterator[JwksServer]:
    with JwksServer(minter, rsa_minter) as server:
        yield server


@pytest.fixture(scope="session")
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def stack(stacks: Callable[..., Stack], jwks: JwksServer, otlp: OtlpReceiver) -> Iterator[Stack]:
    """The catalog subgraph, verifying tokens against the test JWKS; gateways in front of it
    share that JWKS and the catalog's routing URL."""
    # key rotation tests use a new kid at once; other tests' made-up kids must not delay it
    gateway_env = {"EMPORIUM_JWKS_REFETCH_MIN_INTERVAL_MS": "100"}
    with stacks("gateway", jwks_url=jwks.url, gateway_env=gateway_env) as stack:
        stack.start(
            "catalog",
            env={
                # key rotation tests: the catalog must see a new kid at once
                "EMPORIUM_JWKS_REFETCH_MIN_INTERVAL_S": "0",
                "EMPORIUM_OTLP_ENDPOINT": otlp.base_url,
            },
        )
        yield stack


@pytest.fixture(scope="session")
def gateway(stack: Stack, otlp: OtlpReceiver) -> GraphQLClient:
    """The development gateway on the committed supergraph, exporting traces."""
    return stack.gateway(
        "gateway-dev",
        EMPORIUM_OTLP_ENDPOINT=otlp.base_url,
        EMPORIUM_CORS_ORIGINS="https://shop.example,https://admin.example",
    )


@dataclass(frozen=True)
class CatalogData:
    category_id: str
    product_id: str
    product_slug: str


@pytest.fixture(scope="session")
def catalog_data(gateway: GraphQLClient, minter: TokenMinter, run_id: str) -> CatalogData:
    """One category and one product, created through the gateway by an admin."""
    admin = minter.mint("admin-seed", ["admin"], scopes=scopes_for(["admin"]))
    category = gateway.post(
        "mutation($name: String!) { createCategory(input: {name: $name}) { id } }",
        {"name": f"Gateway Test {run_id}"},
        token=admin,
    )
    assert category.status_code == 200, category.text
    category_id = category.json()["data"]["createCategory"]["id"]
    product = gateway.post(
        """mutation($input: CreateProductInput!) {
             createProduct(input: $input) { id slug }
           }""",
        {
            "input": {
                "name": f"Gateway Phone {run_id}",
                "brand": "Acme",
                "categoryId": category_id,
                "sku": f"GW-{run_id}",
                "price": {"amount": 129_900, "currency": "USD"},
            }
        },
        token=admin,
    )
    assert product.status_code == 200, product.text
    created = product.json()["data"]["createProduct"]
    return CatalogData(category_id, created["id"], created["slug"])
