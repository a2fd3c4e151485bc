"""Envelope, declarations, catalog and outbox update builders (no infrastructure)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from emporium_kit.events import (
    Event,
    EventCatalog,
    EventSpec,
    dlq_subject,
    incompatibilities,
    new_event_id,
    stream_name,
    with_events,
    with_outbox,
)
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel, ValidationError

pytestmark = pytest.mark.unit


class ProductCreated(BaseModel):
    name: str
    price_minor: int
    currency: str = "EUR"


class ProductCreatedView(BaseModel):
    """What a consumer reads of it (tolerant reader: a subset)."""

    name: str


SPEC = EventSpec("catalog", "ProductCreated", ProductCreated, version=2)


def make_event(**overrides: object) -> Event[ProductCreated]:
    return SPEC.new(
        ProductCreated(name="Lamp", price_minor=1999),
        aggregate_id="p-1",
        source="catalog",
        **overrides,
    )  # type: ignore[arg-type]


def test_round_trip_keeps_every_field_and_types_the_payload() -> None:
    event = make_event()
    wire = event.to_json()
    parsed = SPEC.parse(wire)
    assert parsed == event
    assert isinstance(parsed.data, ProductCreated)
    assert parsed.data.price_minor == 1999
    raw = orjson.loads(wire)
    assert set(raw) == {
        "id", "domain", "type", "version", "occurred_at", "source", "aggregate_id", "data",
    }  # fmt: skip
    assert raw["version"] == 2
    assert raw["occurred_at"].endswith("Z")


def test_untyped_parse_keeps_data_as_dict() -> None:
    event = Event.from_json(make_event().to_json())
    assert event.data == {"name": "Lamp", "price_minor": 1999, "currency": "EUR"}


def test_subject_stream_and_dead_letter_names() -> None:
    event = make_event()
    assert event.subject == "emporium.catalog.ProductCreated"
    assert SPEC.subject == event.subject
    assert stream_name("catalog") == "EMPORIUM_CATALOG"
    assert dlq_subject("search-indexer", event.subject) == (
        "emporium.dlq.search-indexer.catalog.ProductCreated"
    )


def test_ids_are_ulids_that_sort_by_creation_time() -> None:
    ids = []
    for _ in range(3):
        ids.append(new_event_id())
        time.sleep(0.002)  # ULIDs order by millisecond; force distinct milliseconds
    assert ids == sorted(ids)
    assert all(len(i) == 26 for i in ids)
    with pytest.raises(ValidationError):
        Event[ProductCreated].model_validate(
            {**orjson.loads(make_event().to_json()), "id": "x" * 26}
        )


def test_occurred_at_is_normalised_to_utc_and_must_be_aware() -> None:
    cest = timezone(timedelta(hours=2))
    event = make_event(occurred_at=datetime(2026, 5, 1, 12, 0, tzinfo=cest))
    assert event.occurred_at == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError):
        make_event(occurred_at=datetime(2026, 5, 1, 12, 0))


@pytest.mark.parametrize(
    ("domain", "event_type"),
    [("Catalog", "ProductCreated"), ("dlq", "ProductCreated"), ("catalog", "productCreated"),
     ("catalog", "Product.Created"), ("cat alog", "X")],
)  # fmt: skip
def test_spec_rejects_names_that_break_subjects(domain: str, event_type: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        EventSpec(domain, event_type, ProductCreated)


def test_parse_rejects_another_event_type_and_bad_payloads() -> None:
    other = EventSpec("catalog", "ProductArchived", ProductCreated)
    wire = other.new(ProductCreated(name="x", price_minor=1), aggregate_id="p", source="s")
    with pytest.raises(ValueError, match=r"expected emporium\.catalog\.ProductCreated"):
        SPEC.parse(wire.to_json())
    bad = orjson.loads(make_event().to_json())
    bad["data"]["price_minor"] = "lots"
    with pytest.raises(ValidationError):
        SPEC.parse(orjson.dumps(bad))
    with pytest.raises(TypeError):
        SPEC.new(ProductCreatedView(name="x"), aggregate_id="p", source="s")  # type: ignore[arg-type]


def test_catalog_declares_in_one_place_and_stamps_the_source(tmp_path: Path) -> None:
    catalog = EventCatalog("catalog")
    created = catalog.publishes(SPEC)
    consumed = catalog.consumes(EventSpec("inventory", "StockChanged", ProductCreatedView))
    event = catalog.new(created, ProductCreated(name="Lamp", price_minor=1), aggregate_id="p-9")
    assert event.source == "catalog"
    assert event.version == 2
    assert catalog.domains == ("catalog", "inventory")
    with pytest.raises(LookupError):
        catalog.new(consumed, ProductCreatedView(name="x"), aggregate_id="p")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="declared twice"):
        catalog.publishes(EventSpec("catalog", "ProductCreated", ProductCreatedView))

    schemas = catalog.json_schemas()
    schema = schemas["publishes"]["emporium.catalog.ProductCreated"]
    assert schema["x-event-version"] == 2
    assert set(schema["required"]) == {
        "id", "domain", "type", "version", "occurred_at", "source", "aggregate_id", "data",
    }  # fmt: skip
    assert "price_minor" in orjson.dumps(schema).decode()
    written = catalog.write_json_schemas(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "catalog/consumes/emporium.inventory.StockChanged.json",
        "catalog/publishes/emporium.catalog.ProductCreated.json",
    ]
    assert orjson.loads(written[0].read_bytes())["title"].startswith("emporium.")


def test_incompatibilities_between_publisher_and_consumer_views() -> None:
    view = EventSpec("catalog", "ProductCreated", ProductCreatedView, version=1)
    assert incompatibilities(SPEC, view) == []

    class WantsStock(BaseModel):
        name: int
        stock: int

    problems = incompatibilities(SPEC, EventSpec("catalog", "ProductCreated", WantsStock))
    assert any(p.startswith("stock:") for p in problems)
    assert any("name: consumer expects integer" in p for p in problems)

    class WantsCurrency(BaseModel):
        currency: str

    problems = incompatibilities(SPEC, EventSpec("catalog", "ProductCreated", WantsCurrency))
    assert problems == ["currency: required by the consumer, optional for the publisher"]


def test_with_events_adds_a_push_and_leaves_the_update_alone() -> None:
    update = {"$set": {"name": "Lamp"}, "$inc": {"version": 1}}
    first, second = make_event(), make_event()
    result = with_events(update, [first, second])
    assert update == {"$set": {"name": "Lamp"}, "$inc": {"version": 1}}
    assert result["$set"] == {"name": "Lamp"}
    entries = result["$push"]["outbox"]["$each"]
    assert [e["id"] for e in entries] == [first.id, second.id]
    assert entries[0]["subject"] == "emporium.catalog.ProductCreated"
    assert entries[0]["event"] == orjson.loads(first.to_json())
    # at millisecond precision, as BSON stores it: an entry kept in memory equals the stored one
    assert entries[0]["occurred_at"] == first.occurred_at.replace(
        microsecond=first.occurred_at.microsecond // 1000 * 1000
    )

    again = with_events(result, [make_event()])
    assert len(again["$push"]["outbox"]["$each"]) == 3
    assert with_events(update, []) == update


def test_with_events_refuses_updates_that_would_clobber_the_outbox() -> None:
    with pytest.raises(ValueError, match="outbox"):
        with_events({"$set": {"outbox": []}}, [make_event()])
    with pytest.raises(TypeError):
        with_events([{"$set": {"a": 1}}], [make_event()])  # type: ignore[arg-type]


def test_outbox_entries_remember_the_writers_trace() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        doc = with_outbox({"_id": "p-1", "name": "Lamp"}, [make_event()])
        trace_id = format(span.get_span_context().trace_id, "032x")
    assert doc["name"] == "Lamp"
    (entry,) = doc["outbox"]
    assert entry["trace"]["traceparent"].split("-")[1] == trace_id
    assert with_outbox({"_id": 1}, [])["outbox"] == []
