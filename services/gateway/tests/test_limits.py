"""The gateway's abuse limits: depth, tokens, aliases, cost, request size and per-client rate
limits (Redis counters shared by every replica). Each refusal is a clear error."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import redis
from emporium_kit.testing import TokenMinter
from emporium_platform.harness import GraphQLClient, Stack
from emporium_platform.processes import free_port

from .conftest import error_codes

pytestmark = pytest.mark.workflow

DEFAULT_MAX_DEPTH = 10


def parent_chain(levels: int) -> str:
    """A query whose depth is ``levels + 2`` (category, the parents, the leaf)."""
    inner = "id"
    for _ in range(levels):
        inner = f"parent {{ {inner} }}"
    return f'{{ category(slug: "no-such-category") {{ {inner} }} }}'


def test_depth_at_the_limit_passes_and_one_more_level_is_refused(gateway: GraphQLClient) -> None:
    at_limit = gateway.post(parent_chain(DEFAULT_MAX_DEPTH - 2))
    assert at_limit.status_code == 200
    assert at_limit.json() == {
        "data": {"category": None},
        "extensions": at_limit.json()["extensions"],
    }
    too_deep = gateway.post(parent_chain(DEFAULT_MAX_DEPTH - 1))
    assert "data" not in too_deep.json()
    assert too_deep.json()["errors"][0]["message"] == (
        f"Syntax Error: Query depth limit of {DEFAULT_MAX_DEPTH} exceeded, "
        f"found {DEFAULT_MAX_DEPTH + 1}."
    )


def test_too_many_tokens_is_refused_before_parsing_completes(gateway: GraphQLClient) -> None:
    response = gateway.post("{ rootCategories { " + "id " * 1000 + "} }")
    assert "data" not in response.json()
    assert response.json()["errors"][0]["message"] == "Syntax Error: Token limit of 1000 exceeded."


def test_too_many_aliases_is_refused(gateway: GraphQLClient) -> None:
    fields = " ".join(f'a{i}: product(id: "{i}") {{ id }}' for i in range(16))
    response = gateway.post(f"{{ {fields} }}")
    assert "data" not in response.json()
    assert response.json()["errors"][0]["message"] == (
        "Syntax Error: Aliases limit of 15 exceeded, found 16."
    )


def test_oversized_body_is_refused_with_413(gateway: GraphQLClient) -> None:
    padding = "x" * 70_000
    response = gateway.post("query($pad: String) { __typename }", {"pad": padding})
    assert response.status_code == 413
    assert error_codes(response) == ["REQUEST_TOO_LARGE"]
    assert "exceeds the limit of 65536 bytes" in response.json()["errors"][0]["message"]


def test_body_without_declared_length_is_refused_with_411(gateway: GraphQLClient) -> None:
    def chunks() -> Any:
        yield b'{"query": "{ __typename }"}'

    response = gateway.http.post(
        gateway.url, content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 411
    assert error_codes(response) == ["LENGTH_REQUIRED"]


@pytest.fixture(scope="module")
def redis_url(platform: Any) -> str:
    return str(platform.redis_url)


@pytest.fixture(scope="module")
def limited_pair(stack: Stack, redis_url: str) -> tuple[GraphQLClient, GraphQLClient]:
    """Two gateway replicas sharing Redis, with a low rate limit and a low cost ceiling."""
    settings = {
        "EMPORIUM_REDIS_URL": redis_url,
        "EMPORIUM_RATE_LIMIT_MAX": "4",
        "EMPORIUM_RATE_LIMIT_WINDOW_MS": "60000",
        "EMPORIUM_GRAPHQL_MAX_COST": "12",
    }
    return stack.gateway("gateway-limited-a", **settings), stack.gateway(
        "gateway-limited-b", **settings
    )


def test_rate_limit_is_per_client_and_shared_by_replicas(
    limited_pair: tuple[GraphQLClient, GraphQLClient], minter: TokenMinter, redis_url: str
) -> None:
    first, second = limited_pair
    subject = f"busy-{uuid.uuid4().hex[:8]}"
    busy = minter.mint(subject, ["customer"])
    query = "{ rootCategories { id } }"
    for replica in (first, second, first, second):
        allowed = replica.post(query, token=busy)
        assert allowed.status_code == 200, allowed.text
        assert "errors" not in allowed.json()

    refused = first.post(query, token=busy)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert error_codes(refused) == ["RATE_LIMITED"]
    assert refused.json()["errors"][0]["message"] == (
        "Rate limit exceeded: at most 4 calls per 60s to this field"
    )
    assert "data" not in refused.json() or refused.json()["data"] is None

    # another client is not affected; the count lives in Redis under the gateway's prefix
    other = second.post(query, token=minter.mint(f"calm-{subject}", ["customer"]))
    assert other.status_code == 200
    client = redis.Redis.from_url(redis_url)
    try:
        keys = client.keys(f"gateway:rate-limit:sub:{subject}:*")
        assert [key.decode() for key in keys] == [
            f"gateway:rate-limit:sub:{subject}:rootCategories"
        ]
        assert 0 < client.pttl(keys[0]) <= 60_000
    finally:
        client.close()


def test_every_root_call_counts_once(
    limited_pair: tuple[GraphQLClient, GraphQLClient], minter: TokenMinter, redis_url: str
) -> None:
    """Aliases are separate calls, fields merged under one response key are one call, and
    fragments count like inline fields."""
    gateway = limited_pair[0]
    subject = f"aliases-{uuid.uuid4().hex[:8]}"
    token = minter.mint(subject, ["customer"])
    merged = gateway.post('{ product(id: "x") { id } product(id: "x") { slug } }', token=token)
    assert merged.status_code == 200, merged.text
    three = gateway.post(
        '{ a: product(id: "a") { id } b: product(id: "b") { id } ...More }'
        ' fragment More on Query { c: product(id: "c") { id } }',
        token=token,
    )
    assert three.status_code == 200, three.text
    assert "errors" not in three.json()
    refused = gateway.post('{ product(id: "none") { id } }', token=token)
    assert refused.status_code == 429
    assert error_codes(refused) == ["RATE_LIMITED"]
    client = redis.Redis.from_url(redis_url)
    try:
        assert int(client.get(f"gateway:rate-limit:sub:{subject}:product") or 0) == 5
    finally:
        client.close()


def test_operations_pass_when_the_rate_limit_store_is_unreachable(
    stack: Stack, minter: TokenMinter
) -> None:
    """The limits are abuse control: with Redis gone the shop keeps answering."""
    gateway = stack.gateway(
        "gateway-no-redis",
        EMPORIUM_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        EMPORIUM_RATE_LIMIT_MAX="1",
    )
    token = minter.mint(f"store-down-{uuid.uuid4().hex[:8]}", ["customer"])
    for _ in range(3):
        response = gateway.post("{ rootCategories { id } }", token=token)
        assert response.status_code == 200, response.text
        assert "errors" not in response.json()


def test_operations_over_the_cost_ceiling_are_refused(
    limited_pair: tuple[GraphQLClient, GraphQLClient], minter: TokenMinter
) -> None:
    gateway = limited_pair[0]
    token = minter.mint(f"costly-{uuid.uuid4().hex[:8]}", ["customer"])
    cheap = gateway.post('{ product(id: "none") { id category { id } } }', token=token)
    assert cheap.status_code == 200
    assert "errors" not in cheap.json(), cheap.text
    assert cheap.json()["extensions"]["cost"] == {"estimated": 2, "max": 12}

    nested = "id"
    for _ in range(7):
        nested = f"id parent {{ {nested} }} children {{ id }}"
    costly = gateway.post(f'{{ product(id: "none") {{ category {{ {nested} }} }} }}', token=token)
    body = costly.json()
    assert error_codes(costly) == ["COST_ESTIMATED_TOO_EXPENSIVE"]
    assert body["errors"][0]["extensions"]["cost"]["max"] == 12
    assert body["errors"][0]["extensions"]["cost"]["estimated"] > 12
    assert body["data"] is None or body["data"] == {"product": None}


def test_refused_operations_never_reach_the_subgraph(
    limited_pair: tuple[GraphQLClient, GraphQLClient], minter: TokenMinter
) -> None:
    """The gateway's count of HTTP requests to subgraphs (/metrics) does not move while it
    refuses operations for rate, depth, token and cost limits."""
    gateway = limited_pair[1]

    def subgraph_fetches() -> float:
        metrics = httpx.get(gateway.process.metrics_url).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("graphql_gateway_fetch_duration_count{")
        )

    token = minter.mint(f"refused-{uuid.uuid4().hex[:8]}", ["customer"])
    for _ in range(4):
        assert gateway.post("{ categories { id } }", token=token).status_code == 200
    before = subgraph_fetches()
    assert before >= 4
    refusals = [
        gateway.post("{ categories { id } }", token=token),
        gateway.post(parent_chain(DEFAULT_MAX_DEPTH), token=token),
        gateway.post("{ rootCategories { " + "id " * 1000 + "} }", token=token),
        gateway.post(
            "{ rootCategories { " + " ".join(f"p{i}: parent {{ id }}" for i in range(13)) + " } }",
            token=token,
        ),
    ]
    assert [r.json()["errors"][0].get("extensions", {}).get("code") for r in refusals] == [
        "RATE_LIMITED",
        None,
        "GRAPHQL_PARSE_FAILED",
        "COST_ESTIMATED_TOO_EXPENSIVE",
    ]
    assert subgraph_fetches() == before
