"""Catalog events through the outbox onto the real JetStream: no loss, no duplicate delivery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import nats
import orjson
import pytest
from emporium_catalog import events
from emporium_catalog.service import PRODUCTS
from emporium_kit.events import metrics
from emporium_kit.events.publisher import EventPublisher
from fastapi import FastAPI
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from ulid import ULID

from .conftest import Gql, World, wait_until_published

pytestmark = pytest.mark.integration

STREAM = "EMPORIUM_CATALOG"
CREATE = "mutation($i: CreateProductInput!) { createProduct(input: $i) { id version } }"
SET_PRICE = """
mutation($id: ID!, $a: Int!) { setPrice(id: $id, price: {amount: $a, currency: "USD"}) { version } }
"""


@pytest.fixture
async def js(platform: Any) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(platform.nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


class Tap:
    """A durable pull consumer on the catalog stream that starts after everything so far."""

    def __init__(self, js: JetStreamContext, name: str, start_seq: int) -> None:
        self.js, self.name, self.start_seq = js, name, start_seq

    @classmethod
    async def open(cls, js: JetStreamContext) -> Tap:
        info = await js.stream_info(STREAM)
        tap = cls(js, f"catalog-test-{ULID()}", info.state.last_seq + 1)
        await js.add_consumer(
            STREAM,
            ConsumerConfig(
                durable_name=tap.name,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=tap.start_seq,
                ack_policy=AckPolicy.EXPLICIT,
                filter_subject="emporium.catalog.>",
                inactive_threshold=300,
            ),
        )
        return tap

    async def drain(self) -> list[dict[str, Any]]:
        """Every message published to the stream since the tap opened (acked)."""
        sub = await self.js.pull_subscribe_bind(self.name, STREAM)
        received: list[dict[str, Any]] = []
        try:
            while (await self.js.consumer_info(STREAM, self.name)).num_pending:
                for msg in await sub.fetch(100, timeout=5):
                    received.append(
                        orjson.loads(msg.data) | {"_msg_id": msg.header.get("Nats-Msg-Id")}
                    )
                    await msg.ack()
        finally:
            await sub.unsubscribe()
        return received

    async def close(self) -> None:
        await self.js.delete_consumer(STREAM, self.name)


async def new_product(gql: Gql, world: World) -> str:
    variables = {
        "i": {
            "name": "Evented Lamp",
            "brand": "Eventa",
            "categoryId": world.leaf,
            "sku": f"E-{ULID()}",
            "price": {"amount": 4900, "currency": "USD"},
        }
    }
    return (await gql.ok(CREATE, variables, roles=["admin"]))["createProduct"]["id"]


def of(messages: list[dict[str, Any]], product_id: str) -> list[dict[str, Any]]:
    return [m for m in messages if m["aggregate_id"] == product_id]


async def test_every_change_is_published_once_with_its_version(
    gql: Gql, world: World, db: Any, js: JetStreamContext
) -> None:
    tap = await Tap.open(js)
    try:
        product_id = await new_product(gql, world)
        await gql.ok(SET_PRICE, {"id": product_id, "a": 5900}, roles=["admin"])
        await gql.ok(
            "mutation($id: ID!) { archiveProduct(id: $id) { id } }",
            {"id": product_id},
            roles=["admin"],
        )
        await wait_until_published(db, product_id)
        mine = of(await tap.drain(), product_id)
    finally:
        await tap.close()
    assert [(m["type"], m["data"]["version"]) for m in mine] == [
        ("ProductCreated", 1),
        ("PriceChanged", 2),
        ("ProductArchived", 3),
    ]
    assert all(m["_msg_id"] == m["id"] for m in mine)  # Nats-Msg-Id is the event id
    price = events.PriceChanged.parse({k: v for k, v in mine[1].items() if k != "_msg_id"})
    assert (price.data.old_price.amount, price.data.new_price.amount) == (4900, 5900)
    assert mine[0]["data"]["sku"].startswith("E-")


async def test_relay_stopped_after_writing_then_restarted_loses_and_duplicates_nothing(
    gql: Gql, world: World, db: Any, js: JetStreamContext, app: FastAPI
) -> None:
    product_id = await new_product(gql, world)
    await wait_until_published(db, product_id)
    tap = await Tap.open(js)
    outbox = app.state.outbox
    duplicates_before = metrics.PUBLISH_DUPLICATES.labels("PriceChanged")._value.get()
    try:
        await outbox.stop()
        try:
            await gql.ok(SET_PRICE, {"id": product_id, "a": 7777}, roles=["admin"])
            doc = await db[PRODUCTS].find_one({"_id": product_id}, {"outbox": 1})
            [entry] = doc["outbox"]  # written with the change, waiting for the relay
            assert entry["type"] == "PriceChanged"
            # the crash window: the event reached JetStream but was never marked as sent
            await EventPublisher(js).publish_raw(
                subject=entry["subject"],
                payload=orjson.dumps(entry["event"]),
                event_id=entry["id"],
                event_type=entry["type"],
            )
        finally:
            await outbox.start()  # restarted: republishes the pending entry
        await wait_until_published(db, product_id)
        mine = of(await tap.drain(), product_id)
    finally:
        await tap.close()
    assert [(m["type"], m["id"], m["data"]["version"]) for m in mine] == [
        ("PriceChanged", entry["id"], 2)
    ]
    # the relay did publish it again, and JetStream dropped it by its Nats-Msg-Id
    assert metrics.PUBLISH_DUPLICATES.labels("PriceChanged")._value.get() == duplicates_before + 1


async def test_events_written_while_the_relay_is_down_are_published_after_restart(
    gql: Gql, world: World, db: Any, js: JetStreamContext, app: FastAPI
) -> None:
    tap = await Tap.open(js)
    outbox = app.state.outbox
    try:
        await outbox.stop()
        try:
            product_id = await new_product(gql, world)
            for amount in (100, 200, 300):
                await gql.ok(SET_PRICE, {"id": product_id, "a": amount}, roles=["admin"])
            doc = await db[PRODUCTS].find_one({"_id": product_id}, {"outbox": 1})
            assert [e["type"] for e in doc["outbox"]] == ["ProductCreated", *["PriceChanged"] * 3]
        finally:
            await outbox.start()
        await wait_until_published(db, product_id)
        mine = of(await tap.drain(), product_id)
    finally:
        await tap.close()
    assert [(m["type"], m["data"]["version"]) for m in mine] == [
        ("ProductCreated", 1),
        ("PriceChanged", 2),
        ("PriceChanged", 3),
        ("PriceChanged", 4),
    ]
