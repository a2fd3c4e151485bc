"""The cart API through /graphql, on the test platform."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytestmark = pytest.mark.integration

CREATE = """
mutation($name: String!) {
  createCartItem(input: {name: $name}) { id name version createdAt }
}
"""
RENAME = """
mutation($id: ID!, $name: String!, $version: Int) {
  renameCartItem(input: {id: $id, name: $name, expectedVersion: $version}) {
    id name version
  }
}
"""
READ = "query($id: ID!) { cartItem(id: $id) { id name version } }"


async def test_create_read_and_rename(gql: Any) -> None:
    created = (await gql(CREATE, {"name": "Mug"}))["data"]["createCartItem"]
    assert (created["name"], created["version"]) == ("Mug", 1)
    read = (await gql(READ, {"id": created["id"]}))["data"]["cartItem"]
    assert read == {"id": created["id"], "name": "Mug", "version": 1}

    renamed = await gql(RENAME, {"id": created["id"], "name": "Cup", "version": 1})
    assert renamed["data"]["renameCartItem"]["version"] == 2
    stale = await gql(RENAME, {"id": created["id"], "name": "Bowl", "version": 1})
    assert stale["errors"][0]["extensions"]["code"] == "VERSION_CONFLICT"
    assert (await gql(READ, {"id": "nope"}))["data"]["cartItem"] is None


async def test_writes_need_a_signed_in_caller_and_valid_input(gql: Any) -> None:
    anonymous = await gql(CREATE, {"name": "Mug"}, token=None)
    assert anonymous["errors"][0]["extensions"]["code"] == "AUTHENTICATION_REQUIRED"
    empty = await gql(CREATE, {"name": " "})
    assert empty["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"


async def test_the_outbox_relay_publishes_the_events(gql: Any, items: Any) -> None:
    """A write leaves its events in the item's document; the relay publishes, then removes
    them."""
    created = (await gql(CREATE, {"name": "Lamp"}))["data"]["createCartItem"]
    deadline = asyncio.get_running_loop().time() + 30
    while (doc := await items.find_one({"_id": created["id"]})).get("outbox"):
        assert asyncio.get_running_loop().time() < deadline, doc
        await asyncio.sleep(0.2)
    assert doc["name"] == "Lamp"
