"""The catalog's integration events are a contract of their own: explicit, versioned payload
models built from the stored document, whose JSON schemas are committed and pinned here."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from emporium_catalog import events
from emporium_catalog.models import ProductCreate
from emporium_catalog.products import product_document
from emporium_kit.documents import now
from emporium_kit.testing import assert_schemas_committed
from pydantic import BaseModel

pytestmark = pytest.mark.contract

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"


def test_the_published_schemas_are_the_committed_ones(tmp_path: Path) -> None:
    assert_schemas_committed(events.catalog, CONTRACTS, tmp_path)


def _models(model: type[BaseModel]) -> set[type[BaseModel]]:
    found = {model}
    for field in model.model_fields.values():
        for arg in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in found:
                found |= _models(arg)
    return found


@pytest.mark.parametrize("spec", events.catalog.published, ids=lambda s: s.subject)
def test_every_payload_is_an_event_model_with_a_stated_version(spec: Any) -> None:
    assert spec.version == 1
    path = CONTRACTS / "catalog" / "publishes" / f"{spec.subject}.json"
    schema = orjson.loads(path.read_bytes())
    assert schema["x-event-version"] == spec.version
    for model in _models(spec.payload):
        assert model.__module__ == "emporium_catalog.events", (
            f"{model.__name__}: event payloads are built from events.py's models, not the API's"
        )


def stored_product() -> dict[str, Any]:
    data = ProductCreate(
        name="Nordlys Pro 5",
        brand="Nordlys",
        category_id="cat-1",
        sku="NRD-P5-001",
        price={"amount": 129_900, "currency": "EUR"},
        attributes=[{"name": "Colour", "value": "Blue"}],
        images=[{"url": "https://img.example/p5.jpg"}],
    )
    doc = product_document(
        product_id="01JGFJJZ00KNWV38VZ6601RSR6",
        slug="nordlys-pro-5",
        data=data,
        owner_seller_id="seller-1",
        moment=now(),
        listings=[
            {
                "seller_id": "seller-2",
                "sku": "NRD-P5-002",
                "price": {"amount": 119_900, "currency": "EUR"},
                "availability": "PREORDER",
                "updated_at": datetime(2026, 1, 2, tzinfo=UTC),
            }
        ],
    )
    return doc | {"outbox": [{"id": "pending"}]}


@pytest.mark.unit
def test_product_events_carry_the_stored_product_and_no_storage_internals() -> None:
    doc = stored_product()
    event = events.product_created(doc)
    wire = orjson.loads(event.to_json())["data"]
    assert wire["id"] == doc["_id"]
    assert wire["price"] == {"amount": 129_900, "currency": "EUR"}
    assert wire["listings"][0]["seller_id"] == "seller-2"
    assert wire["listings"][0]["availability"] == "PREORDER"
    assert wire["attributes"] == [{"name": "Colour", "value": "Blue"}]
    assert wire["version"] == 1
    assert not {"_id", "name_key", "brand_key", "skus", "outbox"} & wire.keys()
    assert events.ProductCreated.parse(event.to_json()).data == event.data


@pytest.mark.unit
def test_price_and_category_events_are_built_from_documents() -> None:
    doc = stored_product() | {"version": 4, "price": {"amount": 99_900, "currency": "EUR"}}
    changed = events.price_changed(doc, old_price={"amount": 129_900, "currency": "EUR"})
    assert (changed.data.old_price.amount, changed.data.new_price.amount) == (129_900, 99_900)
    assert (changed.aggregate_id, changed.data.version) == (doc["_id"], 4)
    category = {
        "_id": "cat-2",
        "name": "Phones",
        "slug": "phones",
        "parent_id": "cat-1",
        "ancestors": ["cat-1"],
        "version": 2,
        "updated_at": now(),
    }
    moved = events.category_changed(category, change="MOVED")
    assert moved.data.model_dump() == {
        "category_id": "cat-2",
        "change": "MOVED",
        "version": 2,
        "name": "Phones",
        "slug": "phones",
        "parent_id": "cat-1",
        "ancestors": ["cat-1"],
    }
