"""Every event the cart service publishes (and consumes: none yet), declared in one place.

Subjects are ``emporium.cart.<Type>`` on the ``EMPORIUM_CART`` stream. The
payloads are integration events, not the API: ``ItemData`` is its own contract, built from the
stored document (``from_doc``), so a change to a GraphQL field does not change what consumers
receive. Each carries the item's ``version``, so a consumer drops anything not newer than what
it applied. Adding an optional field keeps the spec's ``version``; anything else is a new one.

Events never leave on their own: a write puts them in the same single-document write as the
state change (``Documents.insert`` / ``update``) and the outbox worker publishes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from emporium_kit.events.envelope import Event, EventCatalog, EventSpec
from pydantic import BaseModel, ConfigDict

DOMAIN = "cart"

events = EventCatalog("cart")


class ItemData(BaseModel):
    """The item after the change (v1 of ``ItemCreated`` / ``ItemRenamed``)."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    version: int
    updated_at: datetime

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ItemData:
        return cls(
            id=doc["_id"],
            name=doc["name"],
            version=doc["version"],
            updated_at=doc["updated_at"],
        )


ItemCreated = events.publishes(EventSpec(DOMAIN, "ItemCreated", ItemData, version=1))
ItemRenamed = events.publishes(EventSpec(DOMAIN, "ItemRenamed", ItemData, version=1))


def item_created(doc: Mapping[str, Any]) -> Event[ItemData]:
    """``doc``: the item as stored after the change."""
    return events.new(ItemCreated, ItemData.from_doc(doc), aggregate_id=doc["_id"])


def item_renamed(doc: Mapping[str, Any]) -> Event[ItemData]:
    return events.new(ItemRenamed, ItemData.from_doc(doc), aggregate_id=doc["_id"])
