"""Subscriptions over server-sent events (``graphql_app(subscriptions=True)``): the framing
Hive Gateway's executor reads, GET and POST, and errors in the kit's format."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from ariadne import QueryType, SubscriptionType, make_executable_schema
from emporium_kit.errors import NotFound
from emporium_kit.graphql import graphql_app
from starlette.applications import Starlette
from starlette.routing import Route

pytestmark = pytest.mark.unit

SDL = """
type Query { ping: String }
type Subscription { counted(upTo: Int!): Int! }
"""
SUBSCRIPTION = "subscription($n: Int!) { counted(upTo: $n) }"


def app(subscriptions: bool) -> Starlette:
    subscription = SubscriptionType()

    @subscription.source("counted")
    async def counted_source(_: Any, _info: Any, upTo: int) -> AsyncIterator[int]:  # noqa: N803
        if upTo < 0:
            raise NotFound("NOTHING_TO_COUNT", "Nothing to count", ["upTo"])

        async def count() -> AsyncIterator[int]:
            for n in range(1, upTo + 1):
                yield n

        return count()

    @subscription.field("counted")
    def counted(value: int, _info: Any, **_: Any) -> int:
        return value

    schema = make_executable_schema(SDL, QueryType(), subscription)
    gql = graphql_app(schema, subscriptions=subscriptions)
    return Starlette(routes=[Route("/graphql", gql.handle_request, methods=["GET", "POST"])])


def events(text: str) -> list[tuple[str, Any]]:
    """``(event, data)`` of each LF-framed server-sent event."""
    parsed = []
    for block in text.split("\n\n"):
        if not block.strip() or block.startswith(":"):
            continue
        fields = dict(
            line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
            for line in block.split("\n")
        )
        parsed.append((fields["event"], json.loads(fields["data"]) if fields["data"] else None))
    return parsed


async def stream(application: Starlette, method: str, variables: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        headers = {"accept": "text/event-stream"}
        if method == "GET":
            params = {"query": SUBSCRIPTION, "variables": json.dumps(variables)}
            return await client.get("/graphql", params=params, headers=headers)
        return await client.post(
            "/graphql", json={"query": SUBSCRIPTION, "variables": variables}, headers=headers
        )


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_each_result_is_an_event_then_complete(method: str) -> None:
    response = await stream(app(subscriptions=True), method, {"n": 3})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "\r" not in response.text  # the gateway splits events on a blank line of LFs
    assert events(response.text) == [
        ("next", {"data": {"counted": 1}}),
        ("next", {"data": {"counted": 2}}),
        ("next", {"data": {"counted": 3}}),
        ("complete", None),
    ]


async def test_a_refused_subscription_keeps_the_error_code_and_field() -> None:
    response = await stream(app(subscriptions=True), "POST", {"n": -1})
    (kind, payload), done = events(response.text)
    assert (kind, done) == ("next", ("complete", None))
    error = payload["errors"][0]
    assert error["message"] == "Nothing to count"
    assert error["extensions"] == {
        "code": "NOTHING_TO_COUNT",
        "kind": "NOT_FOUND",
        "field": ["upTo"],
    }


async def test_without_subscriptions_an_event_stream_is_not_served() -> None:
    response = await stream(app(subscriptions=False), "POST", {"n": 1})
    assert not response.headers["content-type"].startswith("text/event-stream")
