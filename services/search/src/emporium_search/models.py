"""What search reads (catalog products and categories) and what its clients may ask.

The catalog's events and its GraphQL API are read through *tolerant reader* views: only the
fields search needs, unknown fields ignored, enums kept as strings so a new catalog value
does not break indexing. The same :class:`ProductView` parses a ``ProductCreated`` payload,
a product fetched from the catalog subgraph (its query aliases fields to snake_case) and a
document read back from the index.

The ``*Input`` models bound every client input: lengths, list sizes and ranges.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

ARCHIVED = "ARCHIVED"
IN_STOCK = "IN_STOCK"

# ------------------------------------------------------------------------------ catalog views


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Money(_View):
    amount: int
    currency: str


class Offer(_View):
    """One seller's listing of a product."""

    seller_id: str
    price: Money
    availability: str


class Attribute(_View):
    name: str
    value: str


class ProductView(_View):
    """A catalog product as search needs it (a subset of the catalog's ``Product``)."""

    id: str
    name: str
    description: str = ""
    brand: str
    category_id: str
    owner_seller_id: str | None = None
    price: Money
    listings: list[Offer] = []
    attributes: list[Attribute] = []
    availability: str
    status: str = "ACTIVE"
    version: int
    created_at: datetime

    @property
    def archived(self) -> bool:
        return self.status == ARCHIVED


class CategoryView(_View):
    """A category: ``ancestors`` are ids, root first, ending with the parent."""

    id: str
    name: str
    parent_id: str | None = None
    ancestors: list[str] = []
    version: int


class PriceChangedView(_View):
    product_id: str
    version: int
    new_price: Money


class ProductArchivedView(_View):
    product_id: str
    version: int


class CategoryChangedView(_View):
    category_id: str
    change: str  # CREATED, UPDATED, MOVED, DELETED
    version: int
    name: str
    parent_id: str | None = None
    ancestors: list[str] = []

    @property
    def deleted(self) -> bool:
        return self.change == "DELETED"

    def category(self) -> CategoryView:
        return CategoryView(
            id=self.category_id,
            name=self.name,
            parent_id=self.parent_id,
            ancestors=self.ancestors,
            version=self.version,
        )


# ------------------------------------------------------------------------------ client input

MAX_QUERY_CHARS = 200
MAX_PREFIX_CHARS = 100
MAX_PAGE_SIZE = 50
DEFAULT_PAGE_SIZE = 20
MAX_SUGGESTIONS = 20
DEFAULT_SUGGESTIONS = 8
MAX_FILTER_VALUES = 20
MAX_ATTRIBUTE_FILTERS = 10
MAX_AMOUNT = 10_000_000_000  # the catalog's upper bound for a price, in minor units
MAX_CURSOR_CHARS = 512

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class Availability(StrEnum):
    IN_STOCK = "IN_STOCK"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    PREORDER = "PREORDER"
    BACKORDER = "BACKORDER"
    DISCONTINUED = "DISCONTINUED"


class SearchSort(StrEnum):
    RELEVANCE = "RELEVANCE"
    PRICE_ASC = "PRICE_ASC"
    PRICE_DESC = "PRICE_DESC"
    NEWEST = "NEWEST"


def _clean(value: Any) -> Any:
    """Control characters become spaces and surrounding whitespace goes, before the length
    checks run (neither carries meaning)."""
    return _CONTROL.sub(" ", value).strip() if isinstance(value, str) else value


def _check_id(value: str) -> str:
    if not ID_RE.match(value):
        raise PydanticCustomError("invalid_id", "not a valid id")
    return value


def _text(min_length: int, max_length: int) -> StringConstraints:
    return StringConstraints(min_length=min_length, max_length=max_length)


_CLEAN = BeforeValidator(_clean)
QueryText = Annotated[str, _CLEAN, _text(0, MAX_QUERY_CHARS)]
Prefix = Annotated[str, _CLEAN, _text(1, MAX_PREFIX_CHARS)]
BrandValue = Annotated[str, _CLEAN, _text(1, 80)]
AttributeName = Annotated[str, _CLEAN, _text(1, 60)]
AttributeValue = Annotated[str, _CLEAN, _text(1, 200)]
Id = Annotated[str, _CLEAN, _text(1, 64), AfterValidator(_check_id)]


def _bounded(max_length: int = MAX_FILTER_VALUES) -> Any:
    """A filter's list of values: one at least, ``max_length`` at most."""
    return Field(min_length=1, max_length=max_length)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AttributeFilterInput(_Input):
    name: AttributeName
    values: Annotated[list[AttributeValue], _bounded()]


class SearchFilterInput(_Input):
    category_id: Id | None = None
    brands: Annotated[list[BrandValue], _bounded()] | None = None
    seller_ids: Annotated[list[Id], _bounded()] | None = None
    min_price: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)] | None = None
    max_price: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)] | None = None
    availability: Annotated[list[Availability], _bounded(len(Availability))] | None = None
    attributes: Annotated[list[AttributeFilterInput], _bounded(MAX_ATTRIBUTE_FILTERS)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (
            self.min_price is not None
            and self.max_price is not None
            and self.min_price > self.max_price
        ):
            raise PydanticCustomError("invalid_price_range", "minPrice must not exceed maxPrice")
        names = [a.name.casefold() for a in self.attributes or ()]
        if len(names) != len(set(names)):
            raise PydanticCustomError(
                "duplicate_attribute", "each attribute may be filtered once (list its values)"
            )
        return self


class SearchInput(_Input):
    query: QueryText | None = None
    filter: SearchFilterInput = SearchFilterInput()
    sort: SearchSort = SearchSort.RELEVANCE
    first: Annotated[StrictInt, Field(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE
    after: Annotated[str, Field(min_length=1, max_length=MAX_CURSOR_CHARS)] | None = None

    @field_validator("query")
    @classmethod
    def _blank_query_is_none(cls, value: str | None) -> str | None:
        return value or None


class SuggestInput(_Input):
    prefix: Prefix
    first: Annotated[StrictInt, Field(ge=1, le=MAX_SUGGESTIONS)] = DEFAULT_SUGGESTIONS
