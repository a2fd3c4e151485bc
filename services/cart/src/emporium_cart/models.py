"""What the cart stores and reads, and the inputs its clients may send.

- **Catalog views** (:class:`ProductView`, :class:`PriceChangedView`,
  :class:`ProductArchivedView`, :class:`CategoryView`): tolerant readers of the catalog's
  versioned integration events (``services/catalog/contracts/``) and of its subgraph's
  answers: only the fields the cart needs, unknown fields ignored, enums kept as strings.
- **Product state** (:class:`ProductState`): the per-product data a cart line is priced and
  checked with, kept in Redis from those events (event-carried state).
- **Inputs** (``*Input``): every client input bounded; field paths in errors are the
  camelCase paths the client sent.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

ARCHIVED = "ARCHIVED"
# what a shopper may put in a cart; OUT_OF_STOCK and DISCONTINUED may not
ORDERABLE = frozenset({"IN_STOCK", "PREORDER", "BACKORDER"})

# ------------------------------------------------------------------------------ catalog views


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class MoneyView(_View):
    amount: int
    currency: str


class ProductView(_View):
    """``ProductCreated`` / ``ProductUpdated`` v1 payload, or the catalog subgraph's product
    (its query aliases fields to snake_case)."""

    id: str
    name: str
    brand: str = ""
    category_id: str
    owner_seller_id: str | None = None
    # the owner's offer: the SKU an order of the product at ``price`` buys
    sku: str | None = None
    price: MoneyView
    availability: str
    status: str = "ACTIVE"
    version: int


class PriceChangedView(_View):
    product_id: str
    version: int
    new_price: MoneyView


class ProductArchivedView(_View):
    product_id: str
    version: int


class CategoryView(_View):
    """``CategoryChanged`` v1 payload: ``ancestors`` root first, ending with the parent."""

    category_id: str
    change: str
    version: int
    ancestors: list[str] = []


class OrderLineView(_View):
    product_id: str
    quantity: int


class OrderView(_View):
    """The order's ``OrderConfirmed`` / ``OrderCancelled`` / ``OrderPaymentFailed`` v1
    payload: whose order, its lines and the coupons it redeemed."""

    order_id: str
    user_id: str
    lines: list[OrderLineView] = []
    coupons: list[str] = []


class ProductState(BaseModel):
    """One product as carts see it, stored under ``product:<id>`` in the cart's Redis
    namespace; ``version`` is the catalog's, so an older event never overwrites it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    brand: str = ""
    category_id: str
    owner_seller_id: str | None = None
    # None: stored before the cart kept SKUs; read again from the catalog
    sku: str | None = None
    price: MoneyView
    availability: str
    status: str
    version: int

    @classmethod
    def of(cls, product: ProductView) -> ProductState:
        return cls(
            id=product.id,
            name=product.name,
            brand=product.brand,
            category_id=product.category_id,
            owner_seller_id=product.owner_seller_id,
            sku=product.sku,
            price=product.price,
            availability=product.availability,
            status=product.status,
            version=product.version,
        )

    @property
    def orderable(self) -> bool:
        return self.status != ARCHIVED and self.availability in ORDERABLE


# ------------------------------------------------------------------------------ inputs


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
# a guest cart's token: 32 random bytes, URL-safe base64 without padding
CartToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
CODE_PATTERN = re.compile(r"^[A-Z0-9_-]{3,32}$")


def _code(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    code = value.strip().upper()
    if not CODE_PATTERN.match(code):
        raise PydanticCustomError("coupon_code_invalid", "3 to 32 letters, digits, '-' or '_'", {})
    return code


CouponCode = Annotated[str, Field(max_length=64)]


class CartRef(_Input):
    """Which cart: a guest's by its token, else the signed-in shopper's."""

    cart_token: CartToken | None = None
    expected_version: StrictInt | None = Field(default=None, ge=0)


class LineInput(CartRef):
    product_id: Id
    # the upper bound is the service's per-line limit, checked with its own message
    quantity: StrictInt = Field(default=1, ge=1, le=1_000_000)


class QuantityInput(CartRef):
    product_id: Id
    # 0 removes the line
    quantity: StrictInt = Field(ge=0, le=1_000_000)


class ProductRefInput(CartRef):
    product_id: Id


class CouponInput(CartRef):
    code: CouponCode

    @field_validator("code", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return _code(value)


class TargetKindName(StrEnum):
    CART = "CART"
    PRODUCT = "PRODUCT"
    CATEGORY = "CATEGORY"
    BRAND = "BRAND"
    SELLER = "SELLER"


class BenefitKindName(StrEnum):
    PERCENT_OFF = "PERCENT_OFF"
    AMOUNT_OFF = "AMOUNT_OFF"
    BUY_X_GET_Y = "BUY_X_GET_Y"
    TIERED = "TIERED"
    FREE_SHIPPING = "FREE_SHIPPING"


Percent = Annotated[Decimal, Field(gt=0, le=100, max_digits=5, decimal_places=2)]
Amount = Annotated[StrictInt, Field(gt=0, le=100_000_000)]


class TargetInput(_Input):
    kind: TargetKindName
    values: list[Id] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _values(self) -> Self:
        if self.kind is TargetKindName.CART and self.values:
            raise PydanticCustomError("target_values", "a CART target takes no values", {})
        if self.kind is not TargetKindName.CART and not self.values:
            raise PydanticCustomError("target_values", f"a {self.kind} target needs values", {})
        return self


class TierInput(_Input):
    threshold: StrictInt = Field(ge=0, le=100_000_000)
    percent: Percent | None = None
    amount: Amount | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.percent is None) == (self.amount is None):
            raise PydanticCustomError("tier_benefit", "a tier has a percent or an amount", {})
        return self


class BenefitInput(_Input):
    kind: BenefitKindName
    percent: Percent | None = None
    amount: Amount | None = None
    per_unit: bool = False
    buy: StrictInt = Field(default=0, ge=0, le=100)
    get: StrictInt = Field(default=0, ge=0, le=100)
    tiers: list[TierInput] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _shape(self) -> Self:
        kind = self.kind
        if kind is BenefitKindName.PERCENT_OFF and self.percent is None:
            raise PydanticCustomError("benefit_percent", "PERCENT_OFF needs a percent", {})
        if kind is BenefitKindName.AMOUNT_OFF and self.amount is None:
            raise PydanticCustomError("benefit_amount", "AMOUNT_OFF needs an amount", {})
        if kind is BenefitKindName.BUY_X_GET_Y and (self.buy < 1 or self.get < 1):
            raise PydanticCustomError("benefit_buy_get", "BUY_X_GET_Y needs buy and get >= 1", {})
        if kind is BenefitKindName.TIERED:
            thresholds = [tier.threshold for tier in self.tiers]
            if not thresholds or thresholds != sorted(set(thresholds)):
                raise PydanticCustomError(
                    "benefit_tiers", "TIERED needs tiers with ascending thresholds", {}
                )
        return self


class OfferFields(_Input):
    label: Label
    target: TargetInput
    benefit: BenefitInput
    priority: StrictInt = Field(default=0, ge=-1000, le=1000)
    stacking: str = Field(default="COMBINABLE", pattern=r"^(COMBINABLE|EXCLUSIVE)$")
    min_subtotal: StrictInt | None = Field(default=None, ge=0, le=100_000_000)
    coupon_code: CouponCode | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    usage_limit: StrictInt | None = Field(default=None, ge=1, le=10_000_000)
    per_user_limit: StrictInt | None = Field(default=None, ge=1, le=1000)
    active: bool = True

    @field_validator("coupon_code", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return _code(value)

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise PydanticCustomError("window", "endsAt must be after startsAt", {})
        if self.coupon_code is None and (self.usage_limit or self.per_user_limit):
            raise PydanticCustomError("limits", "usage limits apply to coupons only", {})
        return self


class OfferCreate(OfferFields):
    pass


class OfferUpdate(OfferFields):
    id: Id
    expected_version: StrictInt | None = Field(default=None, ge=1)


class RedeemInput(_Input):
    code: CouponCode
    order_id: Id

    @field_validator("code", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return _code(value)
