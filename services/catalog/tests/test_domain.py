"""Unit tests of the pure catalog rules: category tree, money input, cursors, input bounds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from emporium_catalog.domain import (
    MAX_CATEGORY_DEPTH,
    MAX_PAGE_SIZE,
    PRODUCT_CURSORS,
    Cursor,
    ProductSort,
    TreeNode,
    ancestors_for_child_of,
    check_depth,
    check_move,
    decode_cursor,
    encode_cursor,
    keyset_filter,
    page_size,
    slugify,
    sort_key_of,
    sort_spec,
    subtree_height,
)
from emporium_catalog.models import (
    MAX_ATTRIBUTES,
    MAX_IMAGES,
    CategoryUpdate,
    ListingInput,
    MoneyInput,
    ProductCreate,
    ProductFilterInput,
    ProductRead,
    ProductUpdate,
)
from emporium_catalog.resolvers import parse
from emporium_kit.cursors import Cursors
from emporium_kit.errors import ValidationFailed
from emporium_kit.money import MAX_AMOUNT, Money
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

pytestmark = pytest.mark.unit

SECRET = b"unit-test-secret"
CURSORS = Cursors(SECRET, PRODUCT_CURSORS)

# A tree: root > a > b > c, and root > d
ROOT = TreeNode("root", None, ())
A = TreeNode("a", "root", ("root",))
B = TreeNode("b", "a", ("root", "a"))
C = TreeNode("c", "b", ("root", "a", "b"))
D = TreeNode("d", "root", ("root",))


# ------------------------------------------------------------------------------ category tree


def test_moving_a_category_under_itself_is_a_cycle() -> None:
    with pytest.raises(ValidationFailed) as exc:
        check_move(A, A, field=["parentId"])
    assert exc.value.code == "CATEGORY_CYCLE"
    assert exc.value.field == ["parentId"]


@pytest.mark.parametrize("descendant", [B, C])
def test_moving_a_category_under_its_descendant_is_a_cycle(descendant: TreeNode) -> None:
    with pytest.raises(ValidationFailed) as exc:
        check_move(A, descendant, field=["parentId"])
    assert exc.value.code == "CATEGORY_CYCLE"


@pytest.mark.parametrize("parent", [D, ROOT, None])
def test_moving_elsewhere_is_allowed(parent: TreeNode | None) -> None:
    check_move(A, parent, field=["parentId"])
    check_move(C, parent, field=["parentId"])


def test_moving_a_descendant_up_above_its_ancestor_is_allowed() -> None:
    check_move(C, ROOT, field=["parentId"])
    check_move(B, D, field=["parentId"])


def test_ancestors_of_a_new_child_end_with_the_parent() -> None:
    assert ancestors_for_child_of(None) == ()
    assert ancestors_for_child_of(B) == ("root", "a", "b")


def test_subtree_height_counts_levels_below() -> None:
    assert subtree_height("a", [B, C]) == 2
    assert subtree_height("b", [C]) == 1
    assert subtree_height("c", []) == 0


def test_depth_limit() -> None:
    deepest = tuple(f"n{i}" for i in range(MAX_CATEGORY_DEPTH - 1))
    check_depth(deepest, field=["parentId"])
    with pytest.raises(ValidationFailed) as exc:
        check_depth((*deepest, "one-more"), field=["parentId"])
    assert exc.value.code == "CATEGORY_TOO_DEEP"
    with pytest.raises(ValidationFailed):
        check_depth(deepest[:-1], subtree_height=2, field=["parentId"])


# -------------------------------------------------------------------------------------- money


def test_money_input_accepts_integer_minor_units() -> None:
    money = MoneyInput(amount=1999, currency="USD").money()
    assert money == Money(1999, "USD")
    assert MoneyInput(amount=MAX_AMOUNT, currency="JPY").amount == MAX_AMOUNT


@pytest.mark.parametrize(
    ("amount", "currency", "field", "code"),
    [
        (19.99, "USD", "amount", "INT_TYPE"),
        (True, "USD", "amount", "INT_TYPE"),
        ("1999", "USD", "amount", "INT_TYPE"),
        (-1, "USD", "amount", "GREATER_THAN_EQUAL"),
        (MAX_AMOUNT + 1, "USD", "amount", "LESS_THAN_EQUAL"),
        (100, "usd", "currency", "INVALID_CURRENCY"),
        (100, "XXX", "currency", "INVALID_CURRENCY"),
        (100, "DOLLARS", "currency", "STRING_TOO_LONG"),
    ],
)
def test_money_input_rejects(amount: object, currency: str, field: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse(MoneyInput, {"amount": amount, "currency": currency}, at=["price"])
    assert exc.value.field == ["price", field]
    assert exc.value.details[0].code == code


# ------------------------------------------------------------------------------------ cursors

KEYS = {
    ProductSort.NEWEST: datetime(2026, 5, 17, 8, 30, 12, 345000, tzinfo=UTC),
    ProductSort.PRICE_ASC: 1999,
    ProductSort.PRICE_DESC: 0,
    ProductSort.NAME: "acme phone x",
}


@pytest.mark.parametrize("sort", list(ProductSort))
def test_cursor_round_trip(sort: ProductSort) -> None:
    cursor = Cursor(sort, KEYS[sort], "01JABCDEFGHJKMNPQRSTVWXYZ0")
    text = encode_cursor(cursor, cursors=CURSORS)
    assert decode_cursor(text, sort=sort, cursors=CURSORS) == cursor
    assert "acme" not in text  # opaque: not plain JSON


@given(
    key=st.integers(min_value=0, max_value=MAX_AMOUNT),
    product_id=st.text(alphabet="0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=1, max_size=26),
)
def test_price_cursor_round_trip_property(key: int, product_id: str) -> None:
    cursor = Cursor(ProductSort.PRICE_DESC, key, product_id)
    text = encode_cursor(cursor, cursors=CURSORS)
    assert decode_cursor(text, sort=ProductSort.PRICE_DESC, cursors=CURSORS) == cursor


@given(name=st.text(min_size=0, max_size=200))
def test_name_cursor_round_trip_property(name: str) -> None:
    cursor = Cursor(ProductSort.NAME, name, "id-1")
    text = encode_cursor(cursor, cursors=CURSORS)
    assert decode_cursor(text, sort=ProductSort.NAME, cursors=CURSORS) == cursor


def _reject(text: str, sort: ProductSort = ProductSort.PRICE_ASC) -> str:
    with pytest.raises(ValidationFailed) as exc:
        decode_cursor(text, sort=sort, cursors=CURSORS)
    assert exc.value.code == "INVALID_CURSOR"
    assert exc.value.field == ["after"]
    return exc.value.message


def test_cursor_of_another_sort_is_rejected() -> None:
    text = encode_cursor(Cursor(ProductSort.NAME, "a", "p1"), cursors=CURSORS)
    assert _reject(text) == "cursor does not belong to this sort order"


def test_cursor_of_another_list_is_rejected() -> None:
    foreign = Cursors(SECRET, "search.results")
    assert _reject(foreign.encode(["PRICE_ASC", 1, "p1"])) == "cursor was not issued for this list"


@pytest.mark.parametrize(
    "payload",
    [["PRICE_ASC", 1], ["PRICE_ASC", "1", "p1"], ["PRICE_ASC", True, "p1"], ["PRICE_ASC", 1, ""]],
)
def test_signed_cursor_with_a_wrong_position_is_rejected(payload: list[object]) -> None:
    assert _reject(CURSORS.encode(payload)) == "cursor is malformed"


def test_keyset_filter_continues_after_the_cursor_row() -> None:
    assert keyset_filter(ProductSort.PRICE_ASC, 100, "p9") == {
        "$or": [{"price.amount": {"$gt": 100}}, {"price.amount": 100, "_id": {"$gt": "p9"}}]
    }
    assert keyset_filter(ProductSort.NEWEST, KEYS[ProductSort.NEWEST], "p9")["$or"][0] == {
        "created_at": {"$lt": KEYS[ProductSort.NEWEST]}
    }
    assert sort_spec(ProductSort.PRICE_DESC) == [("price.amount", -1), ("_id", -1)]


def test_sort_keys_match_the_stored_fields() -> None:
    product = ProductRead.from_doc(
        {
            "_id": "p1",
            "slug": "p",
            "name": "Ärger Äpfel",
            "description": "",
            "brand": "B",
            "category_id": "c",
            "owner_seller_id": None,
            "sku": "SKU-1",
            "price": {"amount": 7, "currency": "USD"},
            "listings": [],
            "attributes": [],
            "images": [],
            "availability": "IN_STOCK",
            "status": "ACTIVE",
            "version": 1,
            "created_at": KEYS[ProductSort.NEWEST],
            "updated_at": KEYS[ProductSort.NEWEST],
        }
    )
    assert sort_key_of(ProductSort.PRICE_DESC, product) == 7
    assert sort_key_of(ProductSort.NAME, product) == "ärger äpfel"
    assert sort_key_of(ProductSort.NEWEST, product) == KEYS[ProductSort.NEWEST]


@pytest.mark.parametrize("first", [0, -1, MAX_PAGE_SIZE + 1, True])
def test_page_size_is_bounded(first: int) -> None:
    with pytest.raises(ValidationFailed) as exc:
        page_size(first)
    assert exc.value.code == "INVALID_PAGE_SIZE"
    assert exc.value.field == ["first"]


def test_page_size_default_and_max() -> None:
    assert page_size(None) == 20
    assert page_size(MAX_PAGE_SIZE) == MAX_PAGE_SIZE


# ------------------------------------------------------------------------------- input bounds


def _product(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Acme Phone X",
        "brand": "Acme",
        "category_id": "01JCATEGORY",
        "sku": "acme-x-1",
        "price": {"amount": 129900, "currency": "USD"},
    }
    data.update(overrides)
    return data


def test_valid_product_input_is_normalised() -> None:
    product = ProductCreate.model_validate(_product(name="  Acme Phone X  "))
    assert product.name == "Acme Phone X"
    assert product.sku == "ACME-X-1"  # SKUs are case-insensitive: stored upper-case


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"name": ""}, ["input", "name"], "STRING_TOO_SHORT"),
        ({"name": "x" * 201}, ["input", "name"], "STRING_TOO_LONG"),
        ({"description": "x" * 5001}, ["input", "description"], "STRING_TOO_LONG"),
        ({"sku": "a b"}, ["input", "sku"], "INVALID_SKU"),
        ({"sku": "-AB"}, ["input", "sku"], "INVALID_SKU"),
        ({"slug": "Not A Slug"}, ["input", "slug"], "INVALID_SLUG"),
        ({"category_id": "../etc"}, ["input", "categoryId"], "INVALID_ID"),
        ({"price": {"amount": 1.5, "currency": "USD"}}, ["input", "price", "amount"], "INT_TYPE"),
        (
            {"attributes": [{"name": "c", "value": "v"}] * (MAX_ATTRIBUTES + 1)},
            ["input", "attributes"],
            "TOO_LONG",
        ),
        (
            {"images": [{"url": "https://x.example/a.jpg"}] * (MAX_IMAGES + 1)},
            ["input", "images"],
            "TOO_LONG",
        ),
        (
            {"images": [{"url": "javascript:alert(1)"}]},
            ["input", "images", 0, "url"],
            "INVALID_URL",
        ),
        (
            {"attributes": [{"name": "Color", "value": "a"}, {"name": "color", "value": "b"}]},
            ["input"],
            "DUPLICATE_ATTRIBUTE",
        ),
        ({"unexpected": 1}, ["input", "unexpected"], "EXTRA_FORBIDDEN"),
    ],
)
def test_product_input_bounds(overrides: dict[str, object], field: list[object], code: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse(ProductCreate, _product(**overrides), at=["input"])
    assert exc.value.code == "VALIDATION_FAILED"
    assert {"field": field, "code": code} in [
        {"field": d.field, "code": d.code} for d in exc.value.details
    ]


def test_every_problem_is_reported() -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse(
            ProductCreate,
            _product(name="", sku="?", price={"amount": -1, "currency": "usd"}),
            at=["input"],
        )
    fields = [d.field for d in exc.value.details]
    assert fields == [
        ["input", "name"],
        ["input", "sku"],
        ["input", "price", "amount"],
        ["input", "price", "currency"],
    ]
    assert exc.value.field == ["input", "name"]


def test_empty_updates_are_rejected() -> None:
    with pytest.raises(ValidationError):
        ProductUpdate.model_validate({})
    with pytest.raises(ValidationError):
        ProductUpdate.model_validate({"expected_version": 3})
    with pytest.raises(ValidationError):
        CategoryUpdate.model_validate({})
    assert ProductUpdate.model_validate({"name": "New"}).model_dump(exclude_unset=True) == {
        "name": "New"
    }


def test_listing_and_filter_bounds() -> None:
    with pytest.raises(ValidationError):
        ListingInput.model_validate(
            {"seller_id": "s1", "sku": "A", "price": {"amount": 1, "currency": "USD"}}
        )
    with pytest.raises(ValidationFailed) as exc:
        parse(ProductFilterInput, {"min_price": 500, "max_price": 100}, at=["filter"])
    assert exc.value.details[0].code == "INVALID_PRICE_RANGE"
    with pytest.raises(ValidationFailed) as exc:
        parse(ProductFilterInput, {"brands": ["b"] * 21}, at=["filter"])
    assert exc.value.field == ["filter", "brands"]


def test_slugs() -> None:
    assert slugify("Men's Jackets & Coats") == "men-s-jackets-coats"
    assert slugify("Crème Brûlée — Deluxe") == "creme-brulee-deluxe"
    for bad in ("", "Upper", "double--hyphen", "-lead", "x" * 121):
        with pytest.raises(ValidationFailed) as exc:
            parse(CategoryUpdate, {"slug": bad}, at=["input"])
        assert exc.value.field == ["input", "slug"]
