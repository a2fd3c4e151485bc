"""Pure catalog rules: category-tree invariants, slugs and pagination cursors.

Nothing here touches a datastore, so every rule is unit-tested in isolation and the service
layer only orchestrates reads and writes around these functions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from emporium_kit.cursors import CursorMismatchError, Cursors
from emporium_kit.errors import ValidationFailed

Field = list[str | int]


def invalid(code: str, message: str, *, field: Field) -> ValidationFailed:
    return ValidationFailed(code, message, field)


# ---------------------------------------------------------------------------------------- enums


class Availability(StrEnum):
    IN_STOCK = "IN_STOCK"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    PREORDER = "PREORDER"
    BACKORDER = "BACKORDER"
    DISCONTINUED = "DISCONTINUED"


class ProductStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


class ProductSort(StrEnum):
    NEWEST = "NEWEST"
    PRICE_ASC = "PRICE_ASC"
    PRICE_DESC = "PRICE_DESC"
    NAME = "NAME"


# sort -> (document field holding the key, direction). `_id` in the same direction breaks ties,
# which makes every sort total and therefore every keyset cursor unambiguous.
SORT_FIELDS: dict[ProductSort, tuple[str, int]] = {
    ProductSort.NEWEST: ("created_at", -1),
    ProductSort.PRICE_ASC: ("price.amount", 1),
    ProductSort.PRICE_DESC: ("price.amount", -1),
    ProductSort.NAME: ("name_key", 1),
}


def sort_spec(sort: ProductSort) -> list[tuple[str, int]]:
    field, direction = SORT_FIELDS[sort]
    return [(field, direction), ("_id", direction)]


def sort_key_of(sort: ProductSort, product: Any) -> Any:
    """The value of ``product`` (a ProductRead) that ``sort`` orders by, as it is stored."""
    if sort is ProductSort.NEWEST:
        return product.created_at
    if sort is ProductSort.NAME:
        return product.name.casefold()  # the stored name_key
    return product.price.amount


def keyset_filter(sort: ProductSort, key: Any, last_id: str) -> dict[str, Any]:
    """The Mongo filter selecting documents strictly after (key, last_id) in ``sort`` order."""
    field, direction = SORT_FIELDS[sort]
    op = "$gt" if direction == 1 else "$lt"
    return {"$or": [{field: {op: key}}, {field: key, "_id": {op: last_id}}]}


# -------------------------------------------------------------------------------------- cursors

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# productExport (bulk readers: the search rebuild): bigger pages, fewer passes over the store
EXPORT_MAX_PAGE_SIZE = 2000
EXPORT_DEFAULT_PAGE_SIZE = 1000
# the product list's cursors (emporium_kit.cursors): [sort, key, id]
PRODUCT_CURSORS = "catalog.products"


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in one sort order: the sort key of the last row and its id."""

    sort: ProductSort
    key: Any
    id: str


def _key_to_json(sort: ProductSort, key: Any) -> Any:
    # datetimes travel as integer microseconds so the decoded key compares exactly like the
    # stored BSON date (millisecond precision) without timezone surprises.
    if sort is ProductSort.NEWEST:
        return int(key.timestamp() * 1_000_000)
    return key


def _key_from_json(sort: ProductSort, raw: Any) -> Any:
    if sort is ProductSort.NEWEST:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError("NEWEST cursor key must be an integer timestamp")
        return datetime.fromtimestamp(raw / 1_000_000, tz=UTC)
    if sort in (ProductSort.PRICE_ASC, ProductSort.PRICE_DESC):
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError("price cursor key must be an integer")
        return raw
    if not isinstance(raw, str):
        raise ValueError("name cursor key must be a string")
    return raw


def encode_cursor(cursor: Cursor, *, cursors: Cursors) -> str:
    return cursors.encode([cursor.sort.value, _key_to_json(cursor.sort, cursor.key), cursor.id])


def decode_cursor(
    text: str, *, sort: ProductSort, cursors: Cursors, field: Field | None = None
) -> Cursor:
    """A cursor the product list issued, for ``sort``: anything tampered, truncated or
    foreign is rejected, and a NAME cursor makes no sense in a PRICE_ASC listing."""

    def position(raw: Any) -> Cursor:
        raw_sort, raw_key, raw_id = raw
        cursor_sort = ProductSort(raw_sort)
        if cursor_sort is not sort:
            raise CursorMismatchError("cursor does not belong to this sort order")
        if not isinstance(raw_id, str) or not raw_id:
            raise ValueError("bad id")
        return Cursor(sort=cursor_sort, key=_key_from_json(cursor_sort, raw_key), id=raw_id)

    return cursors.decode(text, field=field or ["after"], parse=position)


def page_size(
    first: int | None, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE
) -> int:
    if first is None:
        return default
    if isinstance(first, bool) or not isinstance(first, int) or not 1 <= first <= maximum:
        raise invalid(
            "INVALID_PAGE_SIZE", f"first must be between 1 and {maximum}", field=["first"]
        )
    return first


# ---------------------------------------------------------------------------------------- slugs

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SLUG_LENGTH = 120


def slugify(text: str) -> str:
    """ASCII, lower-case, hyphen-separated; used for generated slugs."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_SLUG_LENGTH].rstrip("-")


# ------------------------------------------------------------------------------- category tree

MAX_CATEGORY_DEPTH = 6


@dataclass(frozen=True, slots=True)
class TreeNode:
    """What the tree rules need to know about a category."""

    id: str
    parent_id: str | None
    ancestors: tuple[str, ...]


def ancestors_for_child_of(parent: TreeNode | None) -> tuple[str, ...]:
    """The materialised ancestor list (root first) of a category placed under ``parent``."""
    return () if parent is None else (*parent.ancestors, parent.id)


def check_depth(ancestors: tuple[str, ...], *, subtree_height: int = 0, field: Field) -> None:
    """Reject trees deeper than MAX_CATEGORY_DEPTH levels (a root is level 1)."""
    if len(ancestors) + 1 + subtree_height > MAX_CATEGORY_DEPTH:
        raise invalid(
            "CATEGORY_TOO_DEEP",
            f"categories may nest at most {MAX_CATEGORY_DEPTH} levels",
            field=field,
        )


def check_move(node: TreeNode, new_parent: TreeNode | None, *, field: Field) -> None:
    """Moving a category under itself or one of its own descendants would create a cycle."""
    if new_parent is None:
        return
    if new_parent.id == node.id:
        raise invalid("CATEGORY_CYCLE", "a category cannot be its own parent", field=field)
    if node.id in new_parent.ancestors:
        raise invalid(
            "CATEGORY_CYCLE", "a category cannot be moved under its own descendant", field=field
        )


def subtree_height(root_id: str, descendants: Iterable[TreeNode]) -> int:
    """Levels below ``root_id`` (0 for a leaf), from the descendants' ancestor lists."""
    height = 0
    for node in descendants:
        height = max(height, len(node.ancestors) - node.ancestors.index(root_id))
    return height


# ------------------------------------------------------------------ availability from stock

STOCK_DRIVEN = frozenset({Availability.IN_STOCK.value, Availability.OUT_OF_STOCK.value})


@dataclass(frozen=True, slots=True)
class StockLevel:
    """One SKU's level as the inventory published it."""

    sku: str
    available: int
    version: int


def newest(levels: Iterable[StockLevel]) -> dict[str, StockLevel]:
    """The highest-version level of each SKU."""
    best: dict[str, StockLevel] = {}
    for level in levels:
        known = best.get(level.sku)
        if known is None or level.version > known.version:
            best[level.sku] = level
    return best


def merge_levels(
    stored: Sequence[Mapping[str, Any]], incoming: Iterable[StockLevel]
) -> list[dict[str, Any]] | None:
    """``stored`` with every incoming level newer than the one recorded for its SKU; ``None``
    when none is newer (a duplicate, a redelivery, an event overtaken by a newer one)."""
    by_sku: dict[str, dict[str, Any]] = {entry["sku"]: dict(entry) for entry in stored}
    changed = False
    for level in newest(incoming).values():
        known = by_sku.get(level.sku)
        if known is not None and known["version"] >= level.version:
            continue
        by_sku[level.sku] = {
            "sku": level.sku,
            "available": level.available,
            "version": level.version,
        }
        changed = True
    return sorted(by_sku.values(), key=lambda entry: entry["sku"]) if changed else None


def _offer_availability(current: str, available: int | None) -> str:
    if available is None or current not in STOCK_DRIVEN:
        return current
    return Availability.IN_STOCK.value if available > 0 else Availability.OUT_OF_STOCK.value


def derived_availability(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The availability fields ``doc``'s recorded stock implies (``availability`` and
    ``listings``), only those that differ from what ``doc`` holds.

    A listing follows its SKU. The product's own availability, while stock-driven, is in
    stock when any tracked offer (the owner's SKU, a listing) has units, or an untracked
    listing says it is in stock; with no offer tracked it stays as it is."""
    levels = {entry["sku"]: entry["available"] for entry in doc.get("stock", [])}
    if not levels or doc.get("status") == ProductStatus.ARCHIVED.value:
        return {}
    changes: dict[str, Any] = {}
    listings = [
        {
            **listing,
            "availability": _offer_availability(
                listing["availability"], levels.get(listing["sku"])
            ),
        }
        for listing in doc.get("listings", [])
    ]
    if listings != doc.get("listings", []):
        changes["listings"] = listings
    owner_tracked = doc.get("owner_seller_id") is not None and doc["sku"] in levels
    listing_tracked = any(listing["sku"] in levels for listing in listings)
    if doc["availability"] in STOCK_DRIVEN and (owner_tracked or listing_tracked):
        in_stock = (owner_tracked and levels[doc["sku"]] > 0) or any(
            listing["availability"] == Availability.IN_STOCK.value for listing in listings
        )
        availability = Availability.IN_STOCK.value if in_stock else Availability.OUT_OF_STOCK.value
        if availability != doc["availability"]:
            changes["availability"] = availability
    return changes
