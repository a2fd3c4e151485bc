"""Inventory documents and the Pydantic models around them.

Storage shapes::

    stock         {_id: sku, product_id, seller_id, on_hand, reserved,
                   holds: {reservation_id: quantity}, returned: {reservation_id: quantity},
                   version, created_at, updated_at, outbox: [...]}
    reservations  {_id: reservation id (the order's id), status, lines: [{sku, quantity}],
                   reason, sku, expires_at, history: [{status, at, cause}], version,
                   created_at, updated_at, outbox: [...]}

``available = on_hand - reserved``; ``reserved`` is the sum of ``holds``. Input models bound
every field; the ``*Read`` models are what resolvers and events see.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

MAX_LINES = 100
MAX_QUANTITY = 1000
MAX_ON_HAND = 1_000_000


class ReservationStatus(StrEnum):
    # holds are being taken; the outcome is not written yet
    PENDING = "PENDING"
    HELD = "HELD"
    COMMITTED = "COMMITTED"
    RELEASED = "RELEASED"
    FAILED = "FAILED"
    # a committed reservation whose order was cancelled: its units are back on hand
    RETURNED = "RETURNED"


class StockAdjust(BaseModel):
    """A change of ``on_hand`` by ``delta`` (a delivery, a count, damage)."""

    model_config = ConfigDict(extra="forbid")

    sku: Sku
    delta: int = Field(ge=-MAX_ON_HAND, le=MAX_ON_HAND)
    reason: Reason
    expected_version: int | None = Field(default=None, ge=1)

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be 0")
        return value


class ReservationLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: Sku
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class ReserveRequest(BaseModel):
    """Hold every line or none, under ``reservation_id`` (the order's id)."""

    model_config = ConfigDict(extra="forbid")

    reservation_id: Id
    lines: list[ReservationLine] = Field(min_length=1, max_length=MAX_LINES)

    @field_validator("lines")
    @classmethod
    def _one_line_per_sku(cls, lines: list[ReservationLine]) -> list[ReservationLine]:
        skus = [line.sku for line in lines]
        if len(set(skus)) != len(skus):
            raise ValueError("each SKU appears once")
        # the lock order: two reservations never wait on each other in a cycle
        return sorted(lines, key=lambda line: line.sku)


class StockRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    product_id: str | None
    seller_id: str | None
    on_hand: int
    reserved: int
    available: int
    version: int
    updated_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> StockRead:
        return cls(
            sku=doc["_id"],
            product_id=doc.get("product_id"),
            seller_id=doc.get("seller_id"),
            on_hand=doc["on_hand"],
            reserved=doc["reserved"],
            available=doc["on_hand"] - doc["reserved"],
            version=doc["version"],
            updated_at=doc["updated_at"],
        )


class ReservationRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    status: ReservationStatus
    lines: list[ReservationLine]
    # why it failed or was released, and the SKU that could not be held
    reason: str | None
    sku: str | None
    expires_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ReservationRead:
        return cls(
            id=doc["_id"],
            status=ReservationStatus(doc["status"]),
            lines=[ReservationLine(**line) for line in doc["lines"]],
            reason=doc.get("reason"),
            sku=doc.get("sku"),
            expires_at=doc.get("expires_at"),
            version=doc["version"],
            created_at=doc["created_at"],
            updated_at=doc["updated_at"],
        )
