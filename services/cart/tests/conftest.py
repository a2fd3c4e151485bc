"""Fixtures for the cart tests: the cart as real processes behind the real gateway.

Identity, catalog, two cart processes and two gateways run on the test platform's Redis, NATS
and FerretDB (started by the platform's ``stacks`` harness): gateway A routes to cart A and
gateway B to cart B, and both cart processes share one Redis namespace and one Mongo
database, as two replicas of one deployment do. Tokens are identity's; products are created
through the gateway by an admin, so prices reach the cart through the catalog's events and
its subgraph. Nothing is mocked.
"""

from __future__ import annotations

import json
import queue
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from emporium_platform.harness import GraphQLClient, Stack
from emporium_platform.processes import ServiceProcess

PASSWORD = "correct horse battery staple"
EVERYONE = "10000/minute"


# --- the client side ---------------------------------------------------------------------------


def data(response: httpx.Response) -> dict[str, Any]:
    """The response's data; fails on any error."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def error(response: httpx.Response) -> dict[str, Any]:
    """The first error of a refused operation: its message, code and field."""
    body = response.json()
    assert body.get("errors"), body
    first = body["errors"][0]
    extensions = first.get("extensions", {})
    return {
        "message": first["message"],
        "code": extensions.get("code"),
        "field": extensions.get("field"),
    }


@dataclass
class Account:
    user_id: str
    email: str
    access_token: str
    refresh_token: str


def register(gateway: GraphQLClient) -> Account:
    email = f"cart-{uuid.uuid4().hex[:12]}@example.com"
    payload = data(gateway.run("Register", {"input": {"email": email, "password": PASSWORD}}))[
        "register"
    ]
    return Account(payload["user"]["id"], email, payload["accessToken"], payload["refreshToken"])


def login(gateway: GraphQLClient, email: str, password: str) -> Account:
    payload = data(gateway.run("Login", {"input": {"email": email, "password": password}}))["login"]
    return Account(payload["user"]["id"], email, payload["accessToken"], payload["refreshToken"])


def refresh(gateway: GraphQLClient, account: Account) -> Account:
    payload = data(gateway.run("RefreshToken", {"refreshToken": account.refresh_token}))[
        "refreshToken"
    ]
    return Account(account.user_id, account.email, payload["accessToken"], payload["refreshToken"])


def wait_for(check: Callable[[], Any], *, timeout_s: float = 30.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(0.1)


class Subscription:
    """A GraphQL subscription over server-sent events (GraphQL over SSE, distinct
    connections), read by a thread into a queue; ``next(timeout_s)`` is the next payload."""

    def __init__(
        self, url: str, query: str, variables: dict[str, Any], token: str | None = None
    ) -> None:
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._client = httpx.Client(timeout=httpx.Timeout(10.0, read=None))
        headers = {"accept": "text/event-stream", "content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._request = self._client.build_request(
            "POST", url, json={"query": query, "variables": variables}, headers=headers
        )
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            self._response = self._client.send(self._request, stream=True)
            event = ""
            for line in self._response.iter_lines():
                if line.startswith("event:"):
                    event = line.partition(":")[2].strip()
                elif line.startswith("data:") and event in ("next", ""):
                    payload = line.partition(":")[2].strip()
                    if payload:
                        self._events.put(json.loads(payload))
                elif line.startswith("data:") and event == "complete":
                    self._events.put({"complete": True})
        except (httpx.HTTPError, RuntimeError):
            pass  # closed by the test

    def next(self, timeout_s: float = 10.0) -> dict[str, Any]:
        return self._events.get(timeout=timeout_s)

    def until(
        self, check: Callable[[dict[str, Any]], bool], timeout_s: float = 10.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no matching subscription event in time"
            payload = self.next(remaining)
            if check(payload):
                return payload

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        self._client.close()


# --- the processes -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def stack(stacks: Callable[..., Stack]) -> Iterator[Stack]:
    identity_env = {
        "EMPORIUM_IDENTITY_LOGIN_LIMIT_PER_ADDRESS": EVERYONE,
        "EMPORIUM_IDENTITY_REGISTER_LIMIT_PER_ADDRESS": EVERYONE,
        "EMPORIUM_IDENTITY_REFRESH_LIMIT_PER_ADDRESS": EVERYONE,
    }
    # offers are read at once in tests (no per-replica cache)
    cart_env = {"EMPORIUM_CART_OFFERS_CACHE_S": "0"}
    with stacks("cart") as stack:
        stack.start("identity", env=identity_env)
        stack.start("catalog", env={"EMPORIUM_JWKS_REFETCH_MIN_INTERVAL_S": "1"})
        stack.start("cart", env=cart_env)
        # a second replica: the same Redis namespace, database and durable consumer
        stack.start("cart", env=cart_env, replica="cart-b")
        yield stack


@pytest.fixture(scope="session")
def gateway(stack: Stack) -> GraphQLClient:
    """Gateway A: identity, catalog and cart A."""
    return stack.gateway("gateway-cart-a")


@pytest.fixture(scope="session")
def gateway_b(stack: Stack, gateway: GraphQLClient) -> GraphQLClient:
    """Gateway B: the same identity and catalog, cart B."""
    return stack.gateway("gateway-cart-b", EMPORIUM_SUBGRAPH_CART_URL=stack["cart-b"].graphql_url)


@pytest.fixture(scope="session")
def cart_a(stack: Stack) -> ServiceProcess:
    return stack["cart"]


@pytest.fixture(scope="session")
def cart_b(stack: Stack) -> ServiceProcess:
    return stack["cart-b"]


@pytest.fixture(scope="session")
def admin(stack: Stack, gateway: GraphQLClient) -> Account:
    """An admin bootstrapped the documented way: ``emporium-identity create-admin``."""
    identity = stack["identity"]
    email = f"admin-{uuid.uuid4().hex[:10]}@example.com"
    password = secrets.token_urlsafe(18)
    result = subprocess.run(
        [sys.executable, "-m", "emporium_identity.cli", "create-admin", "--email", email],
        env={**identity.env, "EMPORIUM_IDENTITY_ADMIN_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return login(gateway, email, password)


@dataclass(frozen=True)
class CatalogSeed:
    category_id: str
    seller_id: str


@pytest.fixture(scope="session")
def catalog_seed(gateway: GraphQLClient, admin: Account) -> CatalogSeed:
    run = uuid.uuid4().hex[:8]
    category = data(
        gateway.post(
            "mutation($n: String!) { createCategory(input: {name: $n}) { id } }",
            {"n": f"Cart {run}"},
            token=admin.access_token,
        )
    )["createCategory"]
    seller = data(
        gateway.post(
            "mutation($n: String!) { createSeller(input: {name: $n}) { id } }",
            {"n": f"Cart Seller {run}"},
            token=admin.access_token,
        )
    )["createSeller"]
    return CatalogSeed(category["id"], seller["id"])


CREATE_PRODUCT = """
mutation($i: CreateProductInput!) { createProduct(input: $i) { id version } }"""


@pytest.fixture(scope="session")
def new_product(
    gateway: GraphQLClient, admin: Account, catalog_seed: CatalogSeed
) -> Callable[..., str]:
    """``new_product(price=1999, **fields) -> id``: a product created through the gateway."""

    def create(price: int = 1999, **fields: Any) -> str:
        sku = f"CART-{uuid.uuid4().hex[:10].upper()}"
        product = {
            "name": f"Cart Lamp {sku}",
            "brand": "Lumen",
            "categoryId": catalog_seed.category_id,
            "sku": sku,
            "price": {"amount": price, "currency": "USD"},
            **fields,
        }
        return data(gateway.post(CREATE_PRODUCT, {"i": product}, token=admin.access_token))[
            "createProduct"
        ]["id"]

    return create
