"""The order service's integration events are a contract of their own: payload models built
from the stored document, whose JSON schemas are committed and pinned here."""

from __future__ import annotations

from pathlib import Path

import pytest
from emporium_kit.testing import assert_schemas_committed
from emporium_order import events

pytestmark = pytest.mark.contract

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"


def test_the_published_schemas_are_the_committed_ones(tmp_path: Path) -> None:
    assert_schemas_committed(events.events, CONTRACTS, tmp_path)
