"""Catalog documents and the Pydantic models around them.

Storage shape (collection ``products``; one document per product, listings embedded so that a
product and all its offers change in one single-document update together with their events)::

    {_id, slug, name, name_key, description, brand, brand_key, category_id, owner_seller_id,
     sku, skus: [sku, *listing skus], price: {amount, currency},
     listings: [{seller_id, sku, price, availability, updated_at}],
     attributes: [{name, value}], images: [{url, alt}], availability, status, version,
     created_at, updated_at, outbox: [...pending events...]}

``skus`` gathers every SKU the product owns so that one unique multikey index enforces
"a SKU exists once in the whole catalog" (see ``service.ensure_indexes``). ``name_key`` and
``brand_key`` are lower-cased copies used for case-insensitive sorting and filtering.

``categories``: ``{_id, name, slug, parent_id, ancestors: [root id, ..., parent id], version,
created_at, updated_at, outbox}``. ``sellers``: ``{_id, name, slug, created_at}``.

``*Create``/``*Update`` models bound every input (lengths, ranges, list sizes); ``*Read``
models are what resolvers and the cache see.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Self

from emporium_kit.money import CURRENCIES, MAX_AMOUNT, Money
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from emporium_catalog.domain import (
    MAX_SLUG_LENGTH,
    SLUG_RE,
    Availability,
    ProductStatus,
)

MAX_ATTRIBUTES = 50
MAX_IMAGES = 20
MAX_LISTINGS = 50
SKU_RE = re.compile(r"^[A-Z0-9](?:[A-Z0-9._-]{1,62}[A-Z0-9])$")
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
URL_RE = re.compile(r"^https?://[^\s]{1,2040}$")


def _check_sku(value: str) -> str:
    value = value.upper()
    if not SKU_RE.match(value):
        raise PydanticCustomError(
            "invalid_sku",
            "SKU must be 3-64 characters: letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit",
        )
    return value


def _check_slug(value: str) -> str:
    if not SLUG_RE.match(value):
        raise PydanticCustomError(
            "invalid_slug", "slug must be lower-case letters, digits and single hyphens"
        )
    return value


def _check_id(value: str) -> str:
    if not ID_RE.match(value):
        raise PydanticCustomError("invalid_id", "not a valid id")
    return value


def _check_url(value: str) -> str:
    if not URL_RE.match(value):
        raise PydanticCustomError("invalid_url", "image url must be an http(s) URL")
    return value


def _check_currency(value: str) -> str:
    if value not in CURRENCIES:
        raise PydanticCustomError(
            "invalid_currency", "currency must be one of {codes}", {"codes": ", ".join(CURRENCIES)}
        )
    return value


def _text(min_length: int, max_length: int) -> StringConstraints:
    """Strip surrounding whitespace, then check the length."""
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


Name = Annotated[str, _text(1, 200)]
Title = Annotated[str, _text(1, 80)]
Description = Annotated[str, _text(0, 5000)]
AttributeName = Annotated[str, _text(1, 60)]
AttributeValue = Annotated[str, _text(1, 200)]
AltText = Annotated[str, _text(0, 200)]
SellerName = Annotated[str, _text(1, 120)]
Brand = Annotated[str, _text(1, 80)]
BrandFilter = Annotated[str, _text(0, 80)]
Sku = Annotated[str, _text(3, 64), AfterValidator(_check_sku)]
Slug = Annotated[str, _text(1, MAX_SLUG_LENGTH), AfterValidator(_check_slug)]
Id = Annotated[str, _text(1, 64), AfterValidator(_check_id)]
Currency = Annotated[str, _text(3, 3), AfterValidator(_check_currency)]
ImageUrl = Annotated[str, _text(1, 2048), AfterValidator(_check_url)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MoneyInput(_Input):
    # StrictInt: GraphQL already rejects floats for Int!, but the service functions are also
    # called from Python (seed, tests) where a float or bool must not slip through.
    amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)]
    currency: Currency

    def money(self) -> Money:
        return Money(amount=self.amount, currency=self.currency)


class AttributeInput(_Input):
    name: AttributeName
    value: AttributeValue


class ImageInput(_Input):
    url: ImageUrl
    alt: AltText = ""


def _unique_attribute_names(attributes: list[AttributeInput] | None) -> None:
    if attributes is None:
        return
    seen: set[str] = set()
    for attribute in attributes:
        key = attribute.name.casefold()
        if key in seen:
            raise PydanticCustomError(
                "duplicate_attribute", "attribute {name} appears twice", {"name": attribute.name}
            )
        seen.add(key)


class ProductCreate(_Input):
    name: Name
    slug: Slug | None = None
    description: Description = ""
    brand: Brand
    category_id: Id
    sku: Sku
    price: MoneyInput
    availability: Availability = Availability.IN_STOCK
    attributes: Annotated[list[AttributeInput], Field(max_length=MAX_ATTRIBUTES)] = []
    images: Annotated[list[ImageInput], Field(max_length=MAX_IMAGES)] = []
    # Set by admins to create a product on a seller's behalf; a seller's own id otherwise.
    owner_seller_id: Id | None = None

    @model_validator(mode="after")
    def _attributes(self) -> Self:
        _unique_attribute_names(self.attributes)
        return self


class ProductUpdate(_Input):
    """A partial update: omitted (``None``) fields keep their value."""

    name: Name | None = None
    slug: Slug | None = None
    description: Description | None = None
    brand: Brand | None = None
    category_id: Id | None = None
    availability: Availability | None = None
    attributes: Annotated[list[AttributeInput], Field(max_length=MAX_ATTRIBUTES)] | None = None
    images: Annotated[list[ImageInput], Field(max_length=MAX_IMAGES)] | None = None
    # Optimistic concurrency: when given, the update applies only to this version.
    expected_version: Annotated[StrictInt, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        _unique_attribute_names(self.attributes)
        if not self.model_fields_set - {"expected_version"}:
            raise PydanticCustomError("empty_update", "the update changes nothing")
        return self


class ListingInput(_Input):
    seller_id: Id
    sku: Sku
    price: MoneyInput
    availability: Availability = Availability.IN_STOCK


class CategoryCreate(_Input):
    name: Title
    slug: Slug | None = None
    parent_id: Id | None = None


class CategoryUpdate(_Input):
    name: Title | None = None
    slug: Slug | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.name is None and self.slug is None:
            raise PydanticCustomError("empty_update", "the update changes nothing")
        return self


class SellerCreate(_Input):
    name: SellerName
    slug: Slug | None = None


class ProductFilterInput(_Input):
    category_id: Id | None = None
    brands: Annotated[list[BrandFilter], Field(max_length=20)] | None = None
    seller_id: Id | None = None
    min_price: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)] | None = None
    max_price: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)] | None = None
    currency: Currency | None = None
    availability: Annotated[list[Availability], Field(max_length=len(Availability))] | None = None
    status: ProductStatus = ProductStatus.ACTIVE

    @model_validator(mode="after")
    def _range(self) -> Self:
        if (
            self.min_price is not None
            and self.max_price is not None
            and self.min_price > self.max_price
        ):
            raise PydanticCustomError("invalid_price_range", "minPrice must not exceed maxPrice")
        return self


# ------------------------------------------------------------------------------------- reads


class _Read(BaseModel):
    model_config = ConfigDict(frozen=True)


class Attribute(_Read):
    name: str
    value: str


class Image(_Read):
    url: str
    alt: str = ""


class MoneyRead(_Read):
    amount: int
    currency: str

    def formatted(self) -> str:
        return Money(self.amount, self.currency).formatted()


class Listing(_Read):
    seller_id: str
    sku: str
    price: MoneyRead
    availability: Availability
    updated_at: datetime


class ProductRead(_Read):
    """A product as resolvers and the Redis cache see it (no outbox, no derived keys)."""

    id: str
    slug: str
    name: str
    description: str
    brand: str
    category_id: str
    owner_seller_id: str | None
    sku: str
    price: MoneyRead
    listings: list[Listing]
    attributes: list[Attribute]
    images: list[Image]
    availability: Availability
    status: ProductStatus
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ProductRead:
        return cls.model_validate({**doc, "id": doc["_id"]})


class CategoryRead(_Read):
    id: str
    name: str
    slug: str
    parent_id: str | None
    ancestors: list[str]
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> CategoryRead:
        return cls.model_validate({**doc, "id": doc["_id"]})

    @property
    def depth(self) -> int:
        return len(self.ancestors) + 1


class SellerRead(_Read):
    id: str
    name: str
    slug: str
    created_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> SellerRead:
        return cls.model_validate({**doc, "id": doc["_id"]})
