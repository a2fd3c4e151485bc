"""Index documents built from catalog views (pure functions, unit-tested).

A product document is fully determined by the product at one version, the category path it
sits under and its popularity signal; it is always written whole, with the product's
version as the external version (see :mod:`emporium_search.indexer`). An archived product
becomes a *tombstone* ``{id, version, archived: true}``: it matches no query, and because it
stays in the index (a delete's version is forgotten after ``index.gc_deletes``) a late or
replayed older event can never bring the product back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emporium_search.models import IN_STOCK, CategoryView, Money, Offer, ProductView


@dataclass(frozen=True, slots=True)
class CategoryPath:
    """A category and its ancestors, root first: ids and (where known) names."""

    ids: tuple[str, ...]
    names: tuple[str, ...]

    @classmethod
    def unknown(cls, category_id: str) -> CategoryPath:
        return cls((category_id,), ())

    @property
    def edges(self) -> list[str]:
        """``"/<root>"``, ``"<root>/<child>"``, ...: one per level."""
        parents = ("", *self.ids[:-1])
        return [f"{parent}/{child}" for parent, child in zip(parents, self.ids, strict=True)]


def category_path(category_id: str, categories: Mapping[str, CategoryView]) -> CategoryPath:
    """The path of ``category_id`` from the known categories (unknown ancestors are skipped
    in the names; the ids always come from the category's own ancestor list)."""
    category = categories.get(category_id)
    if category is None:
        return CategoryPath.unknown(category_id)
    ids = (*category.ancestors, category.id)
    names = tuple(categories[i].name for i in ids if i in categories)
    return CategoryPath(ids, names)


def min_price(product: ProductView) -> int:
    """The lowest price a shopper can pay: the base price or any offer in the same currency."""
    amounts = [product.price.amount]
    amounts += [
        o.price.amount for o in product.listings if o.price.currency == product.price.currency
    ]
    return min(amounts)


def product_document(
    product: ProductView, path: CategoryPath, *, popularity: float | None = None
) -> dict[str, Any]:
    """The index document of an active product (use :func:`tombstone` for archived ones)."""
    sellers = {o.seller_id for o in product.listings}
    if product.owner_seller_id:
        sellers.add(product.owner_seller_id)
    doc: dict[str, Any] = {
        "id": product.id,
        "version": product.version,
        "archived": False,
        "name": product.name,
        "description": product.description,
        "brand": product.brand,
        "category": {
            "id": product.category_id,
            "path_ids": list(path.ids),
            "path_names": list(path.names),
            "edges": path.edges,
        },
        "owner_seller_id": product.owner_seller_id,
        "seller_ids": sorted(sellers),
        "offers": [o.model_dump(mode="json") for o in product.listings],
        "base_price": product.price.amount,
        "min_price": min_price(product),
        "currency": product.price.currency,
        "availability": product.availability,
        "in_stock": product.availability == IN_STOCK,
        "attributes": [a.model_dump() for a in product.attributes],
        "attributes_text": [f"{a.name} {a.value}" for a in product.attributes],
        "created_at": product.created_at.isoformat(),
    }
    # rank_feature only takes positive values; no signal yet means no field
    if popularity is not None and popularity > 0:
        doc["popularity"] = popularity
    return doc


def tombstone(product_id: str, version: int) -> dict[str, Any]:
    return {"id": product_id, "version": version, "archived": True}


def is_tombstone(source: Mapping[str, Any]) -> bool:
    return bool(source.get("archived"))


def product_from_document(source: Mapping[str, Any], *, version: int) -> ProductView:
    """Rebuild the product view a (non-tombstone) document was made from."""
    return ProductView(
        id=source["id"],
        name=source["name"],
        description=source.get("description", ""),
        brand=source["brand"],
        category_id=source["category"]["id"],
        owner_seller_id=source.get("owner_seller_id"),
        price=Money(amount=source["base_price"], currency=source["currency"]),
        listings=[Offer.model_validate(o) for o in source.get("offers", ())],
        attributes=source.get("attributes", []),
        availability=source["availability"],
        version=version,
        created_at=source["created_at"],
    )


def category_document(category: CategoryView) -> dict[str, Any]:
    return {**category.model_dump(), "deleted": False}


def category_tombstone(category_id: str, version: int) -> dict[str, Any]:
    return {"id": category_id, "version": version, "deleted": True}


def category_from_document(source: Mapping[str, Any], *, version: int) -> CategoryView | None:
    if source.get("deleted"):
        return None
    return CategoryView.model_validate({**source, "version": version})


def affected(
    products: Sequence[ProductView], changed: set[str], paths: Mapping[str, CategoryPath]
) -> list[ProductView]:
    """The products whose category path went through one of the ``changed`` category ids."""
    return [p for p in products if changed.intersection(paths[p.category_id].ids)]
