"""Order documents, the state machine and the models around them.

Storage shape (collection ``orders``; ``_id`` derives from the buyer and the idempotency
key, so a retried ``placeOrder`` can only ever insert one)::

    {_id, user_id, status, items: [{order_item_id, product_id, sku, seller_id, quantity,
     price_at_purchase: {amount, currency}}], total_amount, currency, shipping_address,
     payment_method, idempotency_key, request_hash, cancel_reason, deadline,
     status_history: [{status, at, cause}], version, created_at, updated_at, outbox: [...]}
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    AWAITING_PAYMENT = "AWAITING_PAYMENT"
    AUTHORISED = "AUTHORISED"
    RESERVED = "RESERVED"
    CONFIRMED = "CONFIRMED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


S = OrderStatus
# The state machine: every legal move. Anything else is refused (ILLEGAL_TRANSITION) when a
# person asks, and ignored when an event asks (a redelivery or a late event).
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.AWAITING_PAYMENT, S.AUTHORISED, S.PAYMENT_FAILED, S.CANCELLED}),
    S.AWAITING_PAYMENT: frozenset({S.AUTHORISED, S.PAYMENT_FAILED, S.CANCELLED}),
    S.AUTHORISED: frozenset({S.RESERVED, S.CANCELLED}),
    S.RESERVED: frozenset({S.CONFIRMED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.PAYMENT_FAILED: frozenset(),
    S.CANCELLED: frozenset({S.REFUNDED}),
    S.REFUNDED: frozenset(),
}
# the saga steps a sweeper watches, each with its deadline setting
WAITING = (S.PENDING, S.AWAITING_PAYMENT, S.AUTHORISED, S.RESERVED)

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MAX_LINES = 50


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Text
    line_1: Text
    line_2: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    city: Text
    postal_code: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)
    ]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class LineInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    product_id: Id
    sku: Id
    quantity: int = Field(ge=1, le=100)


class PlaceOrder(BaseModel):
    """An order of ``lines`` at the catalog's current prices."""

    model_config = ConfigDict(extra="forbid")

    lines: list[LineInput] = Field(min_length=1, max_length=MAX_LINES)
    shipping_address: Address
    idempotency_key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
    # where the order's emails go; without it, the address the buyer registered with
    email: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
            ),
        ]
        | None
    ) = None
    # a provider payment method reference; locally Stripe's test cards
    payment_method: Annotated[str, StringConstraints(pattern=r"^pm_[A-Za-z0-9_]{1,60}$")] = (
        "pm_card_visa"
    )

    @field_validator("lines")
    @classmethod
    def _one_line_per_sku(cls, lines: list[LineInput]) -> list[LineInput]:
        skus = [line.sku for line in lines]
        if len(set(skus)) != len(skus):
            raise ValueError("each SKU appears once")
        return lines


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: int
    currency: str


class OrderItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_item_id: str
    product_id: str
    sku: str
    seller_id: str
    quantity: int
    price_at_purchase: Money


class StatusChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: OrderStatus
    at: datetime
    cause: str


class OrderRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    user_id: str
    status: OrderStatus
    items: list[OrderItem]
    total_amount: int
    currency: str
    shipping_address: Address
    cancel_reason: str | None
    status_history: list[StatusChange]
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> OrderRead:
        return cls(
            id=doc["_id"],
            user_id=doc["user_id"],
            status=OrderStatus(doc["status"]),
            items=[OrderItem(**item) for item in doc["items"]],
            total_amount=doc["total_amount"],
            currency=doc["currency"],
            shipping_address=Address(**doc["shipping_address"]),
            cancel_reason=doc.get("cancel_reason"),
            status_history=[StatusChange(**change) for change in doc["status_history"]],
            version=doc["version"],
            created_at=doc["created_at"],
            updated_at=doc["updated_at"],
        )
