"""Order documents, the state machine and the models around them.

Storage shape (collection ``orders``; ``_id`` derives from the buyer and the idempotency
key, so a retried ``placeOrder`` can only ever insert one)::

    {_id, user_id, status, items: [{order_item_id, product_id, name, sku, seller_id, quantity,
     price_at_purchase: {amount, currency}, discounts: [DISCOUNT], total}],
     subtotal, discounts: [DISCOUNT], discount_total, shipping, shipping_discount,
     total_amount, currency, coupons, cart: {id, version}, shipping_address, payment_method,
     idempotency_key, request_hash, cart_hash, cancel_reason, deadline,
     status_history: [{status, at, cause}], version, created_at, updated_at, outbox: [...]}
    DISCOUNT = {offer_id, label, amount}   (amounts in minor units of ``currency``)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints


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


class PlaceOrder(BaseModel):
    """An order of the buyer's cart, at the cart service's pricing of it now."""

    model_config = ConfigDict(extra="forbid")

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


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: int
    currency: str


class Discount(BaseModel):
    model_config = ConfigDict(frozen=True)

    offer_id: str
    label: str
    amount: int


def item_name(item: Mapping[str, Any]) -> str:
    """A stored line's name: a line stored before orders kept names is named by its SKU."""
    return str(item.get("name", item["sku"]))


class OrderItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_item_id: str
    product_id: str
    # the product's name when the order was placed (what the buyer saw in the cart)
    name: str
    sku: str
    seller_id: str
    quantity: int
    price_at_purchase: Money
    discounts: list[Discount] = []
    # quantity x price less the line's discounts
    total: int


class OrderPricing(BaseModel):
    """The cart's pricing at placement: ``total`` = ``subtotal`` - ``discount_total`` +
    ``shipping`` - ``shipping_discount``."""

    model_config = ConfigDict(frozen=True)

    subtotal: int
    discounts: list[Discount]
    discount_total: int
    shipping: int
    shipping_discount: int
    total: int


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
    pricing: OrderPricing
    coupons: list[str]
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
            items=[
                # an order placed before orders kept discounts: no discounts on its lines
                OrderItem(
                    **{
                        "total": item["quantity"] * item["price_at_purchase"]["amount"],
                        **item,
                        "name": item_name(item),
                    }
                )
                for item in doc["items"]
            ],
            total_amount=doc["total_amount"],
            currency=doc["currency"],
            pricing=OrderPricing(
                subtotal=doc.get("subtotal", doc["total_amount"]),
                discounts=doc.get("discounts", []),
                discount_total=doc.get("discount_total", 0),
                shipping=doc.get("shipping", 0),
                shipping_discount=doc.get("shipping_discount", 0),
                total=doc["total_amount"],
            ),
            coupons=doc.get("coupons", []),
            shipping_address=Address(**doc["shipping_address"]),
            cancel_reason=doc.get("cancel_reason"),
            status_history=[StatusChange(**change) for change in doc["status_history"]],
            version=doc["version"],
            created_at=doc["created_at"],
            updated_at=doc["updated_at"],
        )
