"""Payment documents and the models around them.

Storage shape (collection ``payments``, one per order)::

    {_id: order_id, user_id, status, amount: {amount, currency}, payment_method, provider,
     intent_id, failure, history: [{status, at, cause}], provider_events: [ids applied],
     version, created_at, updated_at, outbox: [...]}
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class PaymentStatus(StrEnum):
    # the order is known; the provider was not asked yet (or its answer was not stored)
    PENDING = "PENDING"
    INITIATED = "INITIATED"
    AUTHORISED = "AUTHORISED"
    CAPTURED = "CAPTURED"
    FAILED = "FAILED"
    VOIDED = "VOIDED"
    REFUNDED = "REFUNDED"


# Every move a payment may make. A provider event or a step that would move it elsewhere
# (a duplicate, an out-of-order webhook) changes nothing.
TRANSITIONS: dict[PaymentStatus, set[PaymentStatus]] = {
    PaymentStatus.PENDING: {
        PaymentStatus.INITIATED,
        PaymentStatus.AUTHORISED,
        PaymentStatus.FAILED,
        PaymentStatus.VOIDED,
    },
    PaymentStatus.INITIATED: {PaymentStatus.AUTHORISED, PaymentStatus.FAILED, PaymentStatus.VOIDED},
    PaymentStatus.AUTHORISED: {PaymentStatus.CAPTURED, PaymentStatus.VOIDED},
    PaymentStatus.CAPTURED: {PaymentStatus.REFUNDED},
    PaymentStatus.FAILED: set(),
    PaymentStatus.VOIDED: set(),
    PaymentStatus.REFUNDED: set(),
}


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: int  # minor units
    currency: str


class PaymentRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    user_id: str
    status: PaymentStatus
    amount: Money
    provider: str
    intent_id: str | None
    failure: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> PaymentRead:
        return cls(
            order_id=doc["_id"],
            user_id=doc["user_id"],
            status=PaymentStatus(doc["status"]),
            amount=Money(**doc["amount"]),
            provider=doc["provider"],
            intent_id=doc.get("intent_id"),
            failure=doc.get("failure"),
            version=doc["version"],
            created_at=doc["created_at"],
            updated_at=doc["updated_at"],
        )
