"""Unit tests of the demo catalog generator (pure: no datastore)."""

from __future__ import annotations

from collections import Counter

import pytest
from emporium_catalog.models import ProductRead
from emporium_catalog.seed import DEFAULT_PRODUCTS, DemoCatalog, generate

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def demo() -> DemoCatalog:
    return generate()


def test_generation_is_deterministic(demo: DemoCatalog) -> None:
    again = generate()
    assert again.products == demo.products
    assert again.categories == demo.categories
    assert again.sellers == demo.sellers
    assert generate(seed=7).products != demo.products


def test_demo_size_and_shape(demo: DemoCatalog) -> None:
    assert len(demo.products) == DEFAULT_PRODUCTS >= 2000
    assert len(demo.sellers) == 20
    assert len(demo.categories) >= 40
    depth = Counter(len(c["ancestors"]) + 1 for c in demo.categories)
    assert set(depth) == {1, 2, 3}
    by_id = {c["_id"]: c for c in demo.categories}
    for category in demo.categories:
        if category["parent_id"] is not None:
            parent = by_id[category["parent_id"]]
            assert category["ancestors"] == [*parent["ancestors"], parent["_id"]]
    assert len({c["name"] for c in demo.categories}) == len(demo.categories)
    assert len({c["slug"] for c in demo.categories}) == len(demo.categories)


def test_products_are_valid_varied_and_unique(demo: DemoCatalog) -> None:
    leaves = {c["_id"] for c in demo.categories if len(c["ancestors"]) == 2}
    assert {p["category_id"] for p in demo.products} == leaves  # every leaf has products
    skus = [sku for p in demo.products for sku in p["skus"]]
    assert len(skus) == len(set(skus))
    assert len({p["slug"] for p in demo.products}) == len(demo.products)
    assert len({p["brand"] for p in demo.products}) >= 50
    prices = [p["price"]["amount"] for p in demo.products]
    assert all(isinstance(a, int) and a > 0 for a in prices)
    assert min(prices) < 1000
    assert max(prices) > 100_000
    seller_ids = {s["_id"] for s in demo.sellers}
    for product in demo.products[:200]:
        ProductRead.from_doc(product)  # the stored shape the API reads back
        assert product["owner_seller_id"] in seller_ids
        assert 1 <= len(product["listings"]) <= 3
        assert {item["seller_id"] for item in product["listings"]} <= seller_ids
        assert product["attributes"]
