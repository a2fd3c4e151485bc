"""Fixtures for the stock suite: catalog, inventory, search and cart as real processes (the
test harness's ``stacks``) on the test platform's Redis, NATS, FerretDB and OpenSearch, the
gateway in front, tokens from the kit's ``TokenMinter`` served as the stack's JWKS. A stock
change made through the inventory's API travels the events as in production: inventory →
``StockLevelChanged`` → catalog → ``ProductUpdated`` → search and cart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from emporium_kit.testing import JwksServer, TokenMinter
from emporium_platform.harness import GraphQLClient, Stack


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter()


@pytest.fixture(scope="session")
def stack(stacks: Callable[..., Stack], minter: TokenMinter) -> Iterator[Stack]:
    with JwksServer(minter) as jwks, stacks("stock", jwks_url=jwks.url) as stack:
        stack.start("catalog")
        stack.start("inventory")
        stack.start("search")
        stack.start("cart")
        yield stack


@pytest.fixture(scope="session")
def gateway(stack: Stack) -> GraphQLClient:
    return stack.gateway()


@pytest.fixture(scope="session")
def admin(minter: TokenMinter) -> str:
    return minter.mint(
        "stock-admin", ["admin"], scopes=["role:admin", "catalog:write"], ttl=timedelta(hours=2)
    )


def data(response: Any) -> dict[str, Any]:
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


def wait_for(check: Callable[[], Any], *, within_s: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``within_s``."""
    deadline = time.monotonic() + within_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"still {value!r}"
        time.sleep(0.25)
