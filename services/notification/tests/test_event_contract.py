"""The notification service's integration events are a contract of their own: payload models built
from the stored document, whose JSON schemas are committed and pinned here."""

from __future__ import annotations

from pathlib import Path

import pytest
from emporium_notification import events

pytestmark = pytest.mark.contract

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
REGENERATE = "uv run emporium-notification event-schemas services/notification/contracts"


def test_the_published_schemas_are_the_committed_ones(tmp_path: Path) -> None:
    """A payload change shows up here: regenerate the schemas, and for anything but a new
    optional field publish it as a new version (docs/events.md, "Versioning")."""
    written = events.events.write_json_schemas(tmp_path)
    generated = {str(p.relative_to(tmp_path)): p.read_bytes() for p in sorted(written)}
    committed = {str(p.relative_to(CONTRACTS)): p.read_bytes() for p in CONTRACTS.rglob("*.json")}
    assert generated.keys() == committed.keys(), f"run `{REGENERATE}`"
    for name, schema in generated.items():
        assert schema == committed[name], f"{name} changed: run `{REGENERATE}`"
