"""Contracts with the catalog: its events as search reads them, and supergraph composition."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from emporium_catalog import events as catalog_events
from emporium_kit.events import EventSpec, incompatibilities
from emporium_platform.registry import load as load_registry
from emporium_search import events as search_events

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[3]
GATEWAY = ROOT / "services" / "gateway"


@pytest.mark.parametrize("spec", search_events.events.consumed, ids=lambda s: s.subject)
def test_search_can_read_what_the_catalog_publishes(spec: EventSpec[Any]) -> None:
    published = {s.subject: s for s in catalog_events.catalog.published}
    assert spec.subject in published
    assert incompatibilities(published[spec.subject], spec) == []


def test_search_parses_the_catalogs_wire_events() -> None:
    """What the catalog serialises for a stored product, search's view reads as the same
    product (its handlers index from these fields)."""
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    doc = {
        "_id": "p1",
        "slug": "p1",
        "name": "Nordlys Pro 5",
        "name_key": "nordlys pro 5",
        "description": "",
        "brand": "Nordlys",
        "category_id": "c1",
        "owner_seller_id": None,
        "sku": "NRD-1",
        "skus": ["NRD-1"],
        "price": {"amount": 1999, "currency": "EUR"},
        "listings": [],
        "attributes": [{"name": "Colour", "value": "Blue"}],
        "images": [],
        "availability": "IN_STOCK",
        "status": "ACTIVE",
        "version": 3,
        "created_at": moment,
        "updated_at": moment,
    }
    wire = catalog_events.product_updated(doc).to_json()
    product = search_events.ProductUpdated.parse(wire).data
    assert (product.id, product.version, product.price.amount) == ("p1", 3, 1999)
    assert product.attributes[0].value == "Blue"
    archived = search_events.ProductArchived.parse(catalog_events.product_archived(doc).to_json())
    assert (archived.data.product_id, archived.data.version) == ("p1", 3)


def test_the_search_subgraph_composes_with_the_catalog(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (GATEWAY / "node_modules").is_dir():
        pytest.skip("node and the gateway's node_modules are needed to compose")
    config = tmp_path / "subgraphs.json"
    registry = load_registry(ROOT)
    config.write_text(
        json.dumps(
            {
                "subgraphs": [
                    {
                        "name": name,
                        "schema": str(registry[name].directory / str(registry[name].schema)),
                        "url": f"{registry.url(name)}/graphql",
                    }
                    for name in ("catalog", "search")
                ]
            }
        )
    )
    out = tmp_path / "supergraph.graphql"
    result = subprocess.run(
        [node, "compose.mjs", "--config", str(config), "--out", str(out)],
        cwd=GATEWAY,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    supergraph = out.read_text()
    assert "search(" in supergraph
    assert '@join__type(graph: SEARCH, key: "id", resolvable: false)' in supergraph
