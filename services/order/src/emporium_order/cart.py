"""The buyer's cart, read through the cart subgraph with the buyer's own token: an order is
placed from what the cart service prices at that moment (its lines, per-line discounts, the
cart's offers, shipping and total), never from what a client sends. The cart's coupons are
redeemed for the order through the same subgraph, with the same token."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from emporium_kit.errors import Conflict, DomainError, NotFound, Unavailable, ValidationFailed
from emporium_kit.resilience import Dependency
from pydantic import BaseModel, ConfigDict

AMOUNT = "{ amount currency }"
DISCOUNT = f"{{ offerId label amount {AMOUNT} }}"
CART = f"""
query OrderCart {{
  cart {{
    id version currency appliedCoupons
    lines {{
      id name sku sellerId quantity available availability
      unitPrice {AMOUNT} subtotal {AMOUNT} discounts {DISCOUNT} total {AMOUNT}
    }}
    pricing {{
      subtotal {AMOUNT} discounts {DISCOUNT} discountTotal {AMOUNT}
      shipping {AMOUNT} shippingDiscount {AMOUNT} total {AMOUNT}
    }}
  }}
}}
"""
REDEEM = """
mutation OrderRedeemCoupon($input: RedeemCouponInput!) {
  redeemCoupon(input: $input) { offerId code orderId }
}
"""
# the cart's errors an order passes on as they are (a coupon that can no longer be redeemed)
KINDS: dict[str, type[DomainError]] = {
    "VALIDATION_FAILED": ValidationFailed,
    "NOT_FOUND": NotFound,
    "CONFLICT": Conflict,
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class Amount(_Model):
    amount: int
    currency: str


class Discount(_Model):
    offerId: str  # noqa: N815 - the cart's field names, as read
    label: str
    amount: Amount


class CartLine(_Model):
    id: str
    name: str
    sku: str | None
    sellerId: str | None  # noqa: N815
    quantity: int
    available: bool
    availability: str
    unitPrice: Amount  # noqa: N815
    subtotal: Amount
    discounts: list[Discount]
    total: Amount


class CartPricing(_Model):
    subtotal: Amount
    discounts: list[Discount]
    discountTotal: Amount  # noqa: N815
    shipping: Amount
    shippingDiscount: Amount  # noqa: N815
    total: Amount


class Cart(_Model):
    """The buyer's cart as the cart service priced it."""

    id: str
    version: int
    currency: str
    appliedCoupons: list[str]  # noqa: N815
    lines: list[CartLine]
    pricing: CartPricing


class CartService:
    def __init__(self, url: str, *, http: httpx.AsyncClient, dependency: Dependency) -> None:
        self.url = url
        self.dependency = dependency
        self._http = http

    async def _call(
        self, authorization: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            async with self.dependency.guard():
                response = await self._http.post(
                    self.url,
                    content=orjson.dumps({"query": query, "variables": variables or {}}),
                    headers={"content-type": "application/json", "authorization": authorization},
                )
                if response.status_code >= 500:
                    response.raise_for_status()
        except (httpx.HTTPError, OSError) as exc:
            raise Unavailable("CART_UNAVAILABLE", "the cart service cannot be reached") from exc
        body: dict[str, Any] = orjson.loads(response.content)
        return body

    async def read(self, authorization: str) -> Cart:
        body = await self._call(authorization, CART)
        if body.get("errors"):
            raise _error(body["errors"][0], ["cart"])
        return Cart.model_validate(body["data"]["cart"])

    async def redeem(
        self, authorization: str, *, code: str, order_id: str, at: list[str | int]
    ) -> None:
        """Count the coupon's redemption for ``order_id`` (the same order again is the same
        redemption); a coupon used up meanwhile is refused naming ``at``."""
        body = await self._call(
            authorization, REDEEM, {"input": {"code": code, "orderId": order_id}}
        )
        if body.get("errors"):
            raise _error(body["errors"][0], at)


def _error(error: dict[str, Any], at: list[str | int]) -> DomainError:
    extensions = error.get("extensions") or {}
    kind = KINDS.get(extensions.get("kind", ""), Conflict)
    if extensions.get("kind") == "UNAVAILABLE":
        kind = Unavailable
    return kind(extensions.get("code") or "CART_ERROR", str(error.get("message")), at)
