"""The item aggregate's rules, without infrastructure."""

from __future__ import annotations

import pytest
from emporium_kit.errors import ValidationFailed, parse_input

from emporium_cart.events import ItemCreated, ItemRenamed, events
from emporium_cart.models import ItemCreate, ItemRename

pytestmark = pytest.mark.unit


def test_names_are_trimmed_and_bounded() -> None:
    assert parse_input(ItemCreate, {"name": "  Mug  "}).name == "Mug"
    for name in ("", "   ", "x" * 121):
        with pytest.raises(ValidationFailed) as refused:
            parse_input(
                ItemCreate, {"name": name}, at=["input"], code="VALIDATION_FAILED"
            )
        assert refused.value.field == ["input", "name"]


def test_an_expected_version_is_positive() -> None:
    with pytest.raises(ValidationFailed):
        parse_input(ItemRename, {"id": "x", "name": "Mug", "expectedVersion": 0})


def test_the_events_it_publishes() -> None:
    assert [spec.subject for spec in events.published] == [
        "emporium.cart.ItemCreated",
        "emporium.cart.ItemRenamed",
    ]
    assert {ItemCreated, ItemRenamed} == set(events.published)
