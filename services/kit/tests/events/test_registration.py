"""Consumer registration rules and dead-letter headers (no infrastructure)."""

from __future__ import annotations

from typing import Any

import pytest
from emporium_kit.events import Event, EventCatalog, EventConsumer, EventSpec, ProcessedEvents
from emporium_kit.events.dlq import DeadLetter, dead_letter_headers
from pydantic import BaseModel

pytestmark = pytest.mark.unit


class Payload(BaseModel):
    sku: str


CREATED = EventSpec("catalog", "ProductCreated", Payload)
ARCHIVED = EventSpec("catalog", "ProductArchived", Payload)


async def noop(event: Event[Any]) -> None:
    return None


def consumer(name: str = "search-indexer", **options: Any) -> EventConsumer:
    # No I/O happens before start(), so no live connection or collection is needed here.
    return EventConsumer(name, None, ProcessedEvents(None), **options)  # type: ignore[arg-type]


def test_consumer_names_must_be_subject_tokens() -> None:
    for bad in ("", "search.indexer", "a b", "x>", "*"):
        with pytest.raises(ValueError, match="invalid consumer name"):
            consumer(bad)
    with pytest.raises(ValueError, match="max_deliver"):
        consumer(max_deliver=0)


def test_subscriptions_must_be_declared_in_the_catalog_and_unique() -> None:
    catalog = EventCatalog("search")
    catalog.consumes(CREATED)
    bound = consumer(catalog=catalog)
    bound.subscribe(CREATED, noop)
    with pytest.raises(ValueError, match="already handles"):
        bound.subscribe(CREATED, noop)
    with pytest.raises(LookupError, match="does not declare consuming"):
        bound.subscribe(ARCHIVED, noop)


def test_durable_config_filters_to_subscribed_subjects() -> None:
    c = consumer(ack_wait_s=12, max_deliver=4)

    @c.handles(ARCHIVED)
    async def on_archived(event: Event[Payload]) -> None:
        return None

    c.subscribe(CREATED, noop)
    (sub_archived, sub_created) = c.subscriptions
    assert sub_archived.handler is on_archived
    assert sub_created.spec is CREATED
    config = c.consumer_config([CREATED.subject, ARCHIVED.subject])
    assert config.durable_name == "search-indexer"
    assert config.ack_wait == 12
    assert config.filter_subjects == [CREATED.subject, ARCHIVED.subject]
    assert config.max_deliver == -1


def test_dead_letter_headers_keep_trace_drop_nats_ids_and_flatten_errors() -> None:
    headers = dead_letter_headers(
        original_headers={
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "Nats-Msg-Id": "01ORIGINAL",
        },
        original_subject="emporium.catalog.ProductCreated",
        original_stream="EMPORIUM_CATALOG",
        original_seq=42,
        consumer="search-indexer",
        error="Traceback\n  boom\r\n" + "x" * 5000,
        deliveries=5,
        event_id="01EVENT",
    )
    assert headers["traceparent"].startswith("00-0af7651916cd43dd")
    assert headers["Nats-Msg-Id"] == "dlq:search-indexer:EMPORIUM_CATALOG:42"
    assert "\n" not in headers["Emporium-Error"]
    assert headers["Emporium-Error"].startswith("Traceback boom x")
    assert len(headers["Emporium-Error"]) == 1024

    letter = DeadLetter.from_stream(
        7, "emporium.dlq.search-indexer.catalog.ProductCreated", b"{}", headers
    )
    assert letter.consumer == "search-indexer"
    assert letter.original_subject == "emporium.catalog.ProductCreated"
    assert letter.event_type == "ProductCreated"
    assert letter.deliveries == 5
    assert letter.event_id == "01EVENT"
    assert letter.dead_lettered_at is not None
