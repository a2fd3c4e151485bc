"""Products through the real /graphql endpoint against the platform's FerretDB and Redis."""

from __future__ import annotations

from typing import Any

import pytest
from emporium_catalog.service import PRODUCTS, SKU_CLAIMS
from ulid import ULID

from .conftest import Gql, World

pytestmark = pytest.mark.integration

# a document's state without its outbox, which the relay empties in the background
STATE = {"outbox": 0}

PRODUCT_FIELDS = """
  id slug name description brand sku version status availability ownerSellerId
  price { amount currency formatted }
  category { id name ancestors { id name } }
  attributes { name value }
  images { url alt }
  listings { sellerId sku availability price { amount currency } seller { id name } }
"""

CREATE = f"mutation($i: CreateProductInput!) {{ createProduct(input: $i) {{ {PRODUCT_FIELDS} }} }}"
UPDATE = (
    "mutation($id: ID!, $i: UpdateProductInput!) "
    f"{{ updateProduct(id: $id, input: $i) {{ {PRODUCT_FIELDS} }} }}"
)
GET = f"query($id: ID!) {{ product(id: $id) {{ {PRODUCT_FIELDS} }} }}"
BY_SLUG = f"query($s: String!) {{ productBySlug(slug: $s) {{ {PRODUCT_FIELDS} }} }}"
SET_PRICE = """
mutation($id: ID!, $p: MoneyInput!) {
  setPrice(id: $id, price: $p) { id version price { amount currency } }
}"""
ARCHIVE = "mutation($id: ID!) { archiveProduct(id: $id) { id status version } }"
UPSERT_LISTING = """
mutation($p: ID!, $i: ListingInput!) {
  upsertListing(productId: $p, input: $i) { id version listings { sellerId sku price { amount } } }
}"""
REMOVE_LISTING = """
mutation($p: ID!, $s: ID!) {
  removeListing(productId: $p, sellerId: $s) { id listings { sellerId } }
}"""
LIST = """
query($f: ProductFilter, $s: ProductSort, $n: Int, $a: String) {
  products(filter: $f, sort: $s, first: $n, after: $a) {
    totalCount
    edges { cursor node { id name price { amount } createdAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


def sku() -> str:
    return f"T-{ULID()}"


def product_input(world: World, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Acme Phone X",
        "brand": "Acme",
        "categoryId": world.leaf,
        "sku": sku(),
        "price": {"amount": 129900, "currency": "USD"},
        "description": "A phone.",
        "attributes": [{"name": "Color", "value": "Black"}],
        "images": [{"url": "https://img.example/x.jpg", "alt": "front"}],
    }
    data.update(overrides)
    return data


async def create(gql: Gql, world: World, **overrides: Any) -> dict[str, Any]:
    data = await gql.ok(CREATE, {"i": product_input(world, **overrides)}, roles=["admin"])
    return data["createProduct"]


async def test_create_read_update_read(gql: Gql, world: World) -> None:
    created = await create(gql, world, name="Lumen Desk Lamp", brand="Lumen")
    assert created["version"] == 1
    assert created["status"] == "ACTIVE"
    assert created["slug"].startswith("lumen-desk-lamp")
    assert created["price"] == {"amount": 129900, "currency": "USD", "formatted": "$1,299.00"}
    assert [a["id"] for a in created["category"]["ancestors"]] == [world.root, world.child]

    read = (await gql.ok(GET, {"id": created["id"]}))["product"]
    assert read == created
    by_slug = (await gql.ok(BY_SLUG, {"s": created["slug"]}))["productBySlug"]
    assert by_slug == created

    updated = (
        await gql.ok(
            UPDATE,
            {"id": created["id"], "i": {"name": "Lumen Desk Lamp II", "expectedVersion": 1}},
            roles=["admin"],
        )
    )["updateProduct"]
    assert updated["name"] == "Lumen Desk Lamp II"
    assert updated["version"] == 2
    assert updated["slug"] == created["slug"]  # the slug changes only when asked
    assert (await gql.ok(GET, {"id": created["id"]}))["product"] == updated

    repriced = (
        await gql.ok(
            SET_PRICE,
            {"id": created["id"], "p": {"amount": 99900, "currency": "USD"}},
            roles=["admin"],
        )
    )["setPrice"]
    assert repriced == {
        "id": created["id"],
        "version": 3,
        "price": {"amount": 99900, "currency": "USD"},
    }

    stale = await gql.error(
        UPDATE,
        {"id": created["id"], "i": {"brand": "Other", "expectedVersion": 1}},
        roles=["admin"],
    )
    assert stale["extensions"]["code"] == "VERSION_CONFLICT"
    assert stale["extensions"]["field"] == ["input", "expectedVersion"]

    archived = (await gql.ok(ARCHIVE, {"id": created["id"]}, roles=["admin"]))["archiveProduct"]
    assert archived == {"id": created["id"], "status": "ARCHIVED", "version": 4}
    again = (await gql.ok(ARCHIVE, {"id": created["id"]}, roles=["admin"]))["archiveProduct"]
    assert again["version"] == 4  # archiving twice changes nothing


async def test_unknown_product_reads_as_null(gql: Gql) -> None:
    assert (await gql.ok(GET, {"id": "01JNOSUCHPRODUCT000000000"}))["product"] is None
    assert (await gql.ok(BY_SLUG, {"s": "no-such-slug"}))["productBySlug"] is None
    error = await gql.error(GET, {"id": "not an id!"})
    assert error["extensions"]["code"] == "INVALID_ID"


async def test_slug_change_moves_the_slug_lookup(gql: Gql, world: World) -> None:
    created = await create(gql, world, slug=f"old-{ULID()}".lower())
    new_slug = f"new-{ULID()}".lower()
    assert (await gql.ok(BY_SLUG, {"s": created["slug"]}))["productBySlug"]["id"] == created["id"]
    await gql.ok(UPDATE, {"id": created["id"], "i": {"slug": new_slug}}, roles=["admin"])
    assert (await gql.ok(BY_SLUG, {"s": created["slug"]}))["productBySlug"] is None
    assert (await gql.ok(BY_SLUG, {"s": new_slug}))["productBySlug"]["id"] == created["id"]


# ------------------------------------------------------------------ invalid input writes nothing


async def _snapshot(db: Any) -> tuple[list[Any], int]:
    """Every product (id and version) and the number of SKU claims."""
    products = await db[PRODUCTS].find({}, {"version": 1}).sort("_id", 1).to_list()
    return products, await db[SKU_CLAIMS].count_documents({})


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        (
            {"price": {"amount": -5, "currency": "USD"}},
            "VALIDATION_FAILED",
            ["input", "price", "amount"],
        ),
        (
            {"price": {"amount": 100, "currency": "usd"}},
            "VALIDATION_FAILED",
            ["input", "price", "currency"],
        ),
        ({"name": "x" * 201}, "VALIDATION_FAILED", ["input", "name"]),
        ({"sku": "no spaces allowed"}, "VALIDATION_FAILED", ["input", "sku"]),
        (
            {"categoryId": "01JNOSUCHCATEGORY00000000"},
            "CATEGORY_NOT_FOUND",
            ["input", "categoryId"],
        ),
        (
            {"ownerSellerId": "01JNOSUCHSELLER0000000000"},
            "SELLER_NOT_FOUND",
            ["input", "ownerSellerId"],
        ),
        (
            {"attributes": [{"name": f"a{i}", "value": "v"} for i in range(51)]},
            "VALIDATION_FAILED",
            ["input", "attributes"],
        ),
    ],
)
async def test_invalid_create_returns_code_and_field_and_writes_nothing(
    gql: Gql, world: World, db: Any, *, overrides: dict[str, Any], code: str, field: list[Any]
) -> None:
    before = await _snapshot(db)
    error = await gql.error(CREATE, {"i": product_input(world, **overrides)}, roles=["admin"])
    assert error["extensions"]["code"] == code
    assert error["extensions"]["field"] == field
    assert await _snapshot(db) == before


async def test_graphql_type_errors_are_rejected_before_any_resolver(gql: Gql, world: World) -> None:
    body = await gql(
        CREATE,
        {"i": product_input(world, price={"amount": 19.99, "currency": "USD"})},
        roles=["admin"],
    )
    assert (
        body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        or "amount" in body["errors"][0]["message"]
    )


async def test_duplicate_sku_and_slug_are_conflicts_and_write_nothing(
    gql: Gql, world: World, db: Any
) -> None:
    first = await create(gql, world)
    before = await _snapshot(db)
    dup_sku = await gql.error(
        CREATE, {"i": product_input(world, sku=first["sku"].lower())}, roles=["admin"]
    )
    assert dup_sku["extensions"]["code"] == "SKU_TAKEN"
    assert dup_sku["extensions"]["field"] == ["input", "sku"]
    dup_slug = await gql.error(
        CREATE, {"i": product_input(world, slug=first["slug"])}, roles=["admin"]
    )
    assert dup_slug["extensions"]["code"] == "SLUG_TAKEN"
    assert dup_slug["extensions"]["field"] == ["input", "slug"]
    assert await _snapshot(db) == before  # the slug clash released its SKU claim too

    # a listing may not reuse a SKU either, on this product or another
    listing = {
        "sellerId": world.seller_a,
        "sku": first["sku"],
        "price": {"amount": 1, "currency": "USD"},
    }
    other = await create(gql, world)
    for product_id in (first["id"], other["id"]):
        error = await gql.error(UPSERT_LISTING, {"p": product_id, "i": listing}, roles=["admin"])
        assert error["extensions"]["code"] == "SKU_TAKEN"
        assert error["extensions"]["field"] == ["input", "sku"]


async def test_invalid_update_writes_nothing(gql: Gql, world: World, db: Any) -> None:
    created = await create(gql, world)
    doc_before = await db[PRODUCTS].find_one({"_id": created["id"]}, STATE)
    for variables, code, field in [
        ({"i": {}}, "VALIDATION_FAILED", ["input"]),
        (
            {"i": {"categoryId": "01JNOSUCHCATEGORY00000000"}},
            "CATEGORY_NOT_FOUND",
            ["input", "categoryId"],
        ),
        (
            {"i": {"images": [{"url": "ftp://x"}]}},
            "VALIDATION_FAILED",
            ["input", "images", 0, "url"],
        ),
    ]:
        error = await gql.error(UPDATE, {"id": created["id"], **variables}, roles=["admin"])
        assert (error["extensions"]["code"], error["extensions"]["field"]) == (code, field)
    assert await db[PRODUCTS].find_one({"_id": created["id"]}, STATE) == doc_before


# --------------------------------------------------------------------------------------- roles


async def test_roles(gql: Gql, world: World, db: Any) -> None:
    variables = {"i": product_input(world)}
    anonymous = await gql.error(CREATE, variables)
    assert anonymous["extensions"]["code"] == "AUTHENTICATION_REQUIRED"
    customer = await gql.error(CREATE, variables, roles=["customer"])
    assert customer["extensions"]["code"] == "MISSING_ROLE"
    forged = await gql.http.post(
        "/graphql",
        json={"query": CREATE, "variables": variables},
        headers={"Authorization": "Bearer not.a.token"},
    )
    assert forged.json()["errors"][0]["extensions"]["code"].startswith("TOKEN_")

    # a seller creates a product: it owns it
    mine = (
        await gql.ok(
            CREATE, {"i": product_input(world)}, roles=["seller"], seller_id=world.seller_a
        )
    )["createProduct"]
    assert mine["ownerSellerId"] == world.seller_a
    on_behalf = await gql.error(
        CREATE,
        {"i": product_input(world, ownerSellerId=world.seller_b)},
        roles=["seller"],
        seller_id=world.seller_a,
    )
    assert on_behalf["extensions"]["code"] == "NOT_YOUR_SELLER_ACCOUNT"

    # only the owner (or an admin) changes it
    rename = {"id": mine["id"], "i": {"name": "Renamed by owner"}}
    assert (await gql.ok(UPDATE, rename, roles=["seller"], seller_id=world.seller_a))[
        "updateProduct"
    ]["name"] == "Renamed by owner"
    before = await db[PRODUCTS].find_one({"_id": mine["id"]}, STATE)
    other = await gql.error(
        UPDATE, rename | {"i": {"name": "Hijacked"}}, roles=["seller"], seller_id=world.seller_b
    )
    assert other["extensions"]["code"] == "NOT_PRODUCT_OWNER"
    assert (
        await gql.error(ARCHIVE, {"id": mine["id"]}, roles=["seller"], seller_id=world.seller_b)
    )["extensions"]["code"] == "NOT_PRODUCT_OWNER"
    assert await db[PRODUCTS].find_one({"_id": mine["id"]}, STATE) == before
    assert (await gql.ok(UPDATE, rename | {"i": {"name": "By admin"}}, roles=["admin"]))[
        "updateProduct"
    ]["name"] == "By admin"

    # listings: a seller manages its own listing on any product, never another seller's
    listing_b = {
        "sellerId": world.seller_b,
        "sku": sku(),
        "price": {"amount": 120000, "currency": "USD"},
    }
    added = (
        await gql.ok(
            UPSERT_LISTING,
            {"p": mine["id"], "i": listing_b},
            roles=["seller"],
            seller_id=world.seller_b,
        )
    )["upsertListing"]
    assert [item["sellerId"] for item in added["listings"]] == [world.seller_b]
    hijack = await gql.error(
        UPSERT_LISTING,
        {"p": mine["id"], "i": listing_b | {"sellerId": world.seller_a, "sku": sku()}},
        roles=["seller"],
        seller_id=world.seller_b,
    )
    assert hijack["extensions"]["code"] == "NOT_YOUR_SELLER_ACCOUNT"
    assert hijack["extensions"]["field"] == ["input", "sellerId"]
    removal = await gql.error(
        REMOVE_LISTING,
        {"p": mine["id"], "s": world.seller_b},
        roles=["seller"],
        seller_id=world.seller_a,
    )
    assert removal["extensions"]["code"] == "NOT_YOUR_SELLER_ACCOUNT"
    by_admin = (
        await gql.ok(
            UPSERT_LISTING,
            {
                "p": mine["id"],
                "i": {
                    "sellerId": world.seller_a,
                    "sku": sku(),
                    "price": {"amount": 5, "currency": "USD"},
                },
            },
            roles=["admin"],
        )
    )["upsertListing"]
    assert {item["sellerId"] for item in by_admin["listings"]} == {world.seller_a, world.seller_b}
    removed = (
        await gql.ok(
            REMOVE_LISTING,
            {"p": mine["id"], "s": world.seller_b},
            roles=["seller"],
            seller_id=world.seller_b,
        )
    )["removeListing"]
    assert [item["sellerId"] for item in removed["listings"]] == [world.seller_a]


async def test_listing_sku_change_releases_the_old_sku(gql: Gql, world: World) -> None:
    product = await create(gql, world)
    first_sku, second_sku = sku(), sku()
    price = {"amount": 100, "currency": "USD"}
    listing = {"sellerId": world.seller_a, "sku": first_sku, "price": price}
    await gql.ok(UPSERT_LISTING, {"p": product["id"], "i": listing}, roles=["admin"])
    await gql.ok(
        UPSERT_LISTING, {"p": product["id"], "i": listing | {"sku": second_sku}}, roles=["admin"]
    )
    # the first SKU is free again: another product may use it
    reused = await create(gql, world, sku=first_sku)
    assert reused["sku"] == first_sku.upper()
    taken = await gql.error(CREATE, {"i": product_input(world, sku=second_sku)}, roles=["admin"])
    assert taken["extensions"]["code"] == "SKU_TAKEN"


# ------------------------------------------------------------------------------ listing queries


@pytest.fixture(scope="module")
async def shelf(gql: Gql, world: World) -> dict[str, Any]:
    """Seven products in a category of their own, with distinct prices and names."""
    data = await gql.ok(
        "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { id } }",
        {"i": {"name": f"Shelf {ULID()}", "parentId": world.other_root}},
        roles=["admin"],
    )
    category = data["createCategory"]["id"]
    specs = [
        ("Zeta Hose", "Verdant", 2500, "IN_STOCK"),
        ("Alpha Rake", "Verdant", 1500, "IN_STOCK"),
        ("Mid Shears", "Rootwell", 4500, "OUT_OF_STOCK"),
        ("Beta Spade", "Rootwell", 1500, "PREORDER"),
        ("Gamma Pot", "Leafline", 999, "IN_STOCK"),
        ("Delta Can", "Leafline", 7000, "IN_STOCK"),
        ("Omega Mower", "Yardmaster", 99900, "IN_STOCK"),
    ]
    products = []
    for name, brand, amount, availability in specs:
        products.append(
            await create(
                gql,
                world,
                name=name,
                brand=brand,
                categoryId=category,
                availability=availability,
                price={"amount": amount, "currency": "USD"},
            )
        )
    listing = {
        "sellerId": world.seller_b,
        "sku": sku(),
        "price": {"amount": 1000, "currency": "USD"},
    }
    await gql.ok(UPSERT_LISTING, {"p": products[2]["id"], "i": listing}, roles=["admin"])
    return {"category": category, "products": products}


async def _all_pages(gql: Gql, flt: dict[str, Any], sort: str, size: int) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    for _ in range(20):
        page = (await gql.ok(LIST, {"f": flt, "s": sort, "n": size, "a": after}))["products"]
        assert len(page["edges"]) <= size
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize("size", [1, 3, 7, 100])
async def test_every_sort_pages_through_all_rows_exactly_once(
    gql: Gql, shelf: dict[str, Any], size: int
) -> None:
    flt = {"categoryId": shelf["category"]}
    ids = {p["id"] for p in shelf["products"]}
    by_price = sorted(shelf["products"], key=lambda p: (p["price"]["amount"], p["id"]))
    expected = {
        "PRICE_ASC": [p["id"] for p in by_price],
        "PRICE_DESC": [
            p["id"]
            for p in sorted(
                shelf["products"], key=lambda p: (-p["price"]["amount"], [-ord(c) for c in p["id"]])
            )
        ],
        "NAME": [p["id"] for p in sorted(shelf["products"], key=lambda p: p["name"].casefold())],
        "NEWEST": [p["id"] for p in reversed(shelf["products"])],
    }
    for sort, order in expected.items():
        nodes = await _all_pages(gql, flt, sort, size)
        assert [n["id"] for n in nodes] == order, sort
        assert {n["id"] for n in nodes} == ids


async def test_filters(gql: Gql, world: World, shelf: dict[str, Any]) -> None:
    async def names(flt: dict[str, Any]) -> set[str]:
        data = await gql.ok(LIST, {"f": flt, "n": 100})
        assert data["products"]["totalCount"] == len(data["products"]["edges"])
        return {edge["node"]["name"] for edge in data["products"]["edges"]}

    category = {"categoryId": shelf["category"]}
    assert await names(category | {"brands": ["rootwell", "Leafline"]}) == {
        "Mid Shears",
        "Beta Spade",
        "Gamma Pot",
        "Delta Can",
    }
    assert await names(category | {"minPrice": 1500, "maxPrice": 4500}) == {
        "Zeta Hose",
        "Alpha Rake",
        "Mid Shears",
        "Beta Spade",
    }
    assert await names(category | {"availability": ["OUT_OF_STOCK", "PREORDER"]}) == {
        "Mid Shears",
        "Beta Spade",
    }
    assert await names(category | {"sellerId": world.seller_b}) == {"Mid Shears"}
    assert await names(category | {"currency": "EUR"}) == set()
    # the whole subtree: the shelf hangs below the other root
    assert {p["name"] for p in shelf["products"]} <= await names({"categoryId": world.other_root})
    assert await names({"categoryId": "01JNOSUCHCATEGORY00000000"}) == set()


async def test_archived_products_leave_listings_and_are_listed_to_staff_only(
    gql: Gql, world: World, shelf: dict[str, Any]
) -> None:
    archived = await create(gql, world, categoryId=shelf["category"], name="Archived Trowel")
    await gql.ok(ARCHIVE, {"id": archived["id"]}, roles=["admin"])
    active = await gql.ok(LIST, {"f": {"categoryId": shelf["category"]}, "n": 100})
    assert archived["id"] not in {e["node"]["id"] for e in active["products"]["edges"]}
    flt = {"categoryId": shelf["category"], "status": "ARCHIVED"}
    denied = await gql.error(LIST, {"f": flt}, roles=["customer"])
    assert denied["extensions"]["code"] == "MISSING_ROLE"
    staff = await gql.ok(LIST, {"f": flt, "n": 100}, roles=["admin"])
    assert [e["node"]["id"] for e in staff["products"]["edges"]] == [archived["id"]]


async def test_cursor_misuse_is_rejected(gql: Gql, shelf: dict[str, Any]) -> None:
    flt = {"categoryId": shelf["category"]}
    page = (await gql.ok(LIST, {"f": flt, "s": "NAME", "n": 2}))["products"]
    cursor = page["pageInfo"]["endCursor"]
    wrong_sort = await gql.error(LIST, {"f": flt, "s": "PRICE_ASC", "n": 2, "a": cursor})
    assert (wrong_sort["extensions"]["code"], wrong_sort["extensions"]["field"]) == (
        "INVALID_CURSOR",
        ["after"],
    )
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    assert (await gql.error(LIST, {"f": flt, "s": "NAME", "n": 2, "a": tampered}))["extensions"][
        "code"
    ] == "INVALID_CURSOR"
    too_many = await gql.error(LIST, {"f": flt, "n": 101})
    assert (too_many["extensions"]["code"], too_many["extensions"]["field"]) == (
        "INVALID_PAGE_SIZE",
        ["first"],
    )
    bad_range = await gql.error(LIST, {"f": flt | {"minPrice": 10, "maxPrice": 1}})
    assert bad_range["extensions"]["field"] == ["filter"]


SHOPPER_VIEW = """
query($id: ID!, $s: String!, $r: [_Any!]!) {
  product(id: $id) { status availability listings { sku } name price { amount } }
  productBySlug(slug: $s) { status availability listings { sku } }
  _entities(representations: $r) { ... on Product { status availability listings { sku } } }
}"""


async def test_an_archived_product_reads_as_no_longer_available_to_shoppers(
    gql: Gql, world: World
) -> None:
    """Old links, carts and order history still resolve an archived product, but shoppers
    see it discontinued with nothing to buy; its owner seller and admins see the record."""
    product = (
        await gql.ok(
            CREATE, {"i": product_input(world)}, roles=["seller"], seller_id=world.seller_a
        )
    )["createProduct"]
    listing = {
        "sellerId": world.seller_a,
        "sku": sku(),
        "price": {"amount": 990, "currency": "USD"},
    }
    await gql.ok(
        UPSERT_LISTING,
        {"p": product["id"], "i": listing},
        roles=["seller"],
        seller_id=world.seller_a,
    )
    await gql.ok(ARCHIVE, {"id": product["id"]}, roles=["admin"])
    variables = {
        "id": product["id"],
        "s": product["slug"],
        "r": [{"__typename": "Product", "id": product["id"]}],
    }
    gone = {"status": "ARCHIVED", "availability": "DISCONTINUED", "listings": []}
    for caller in (
        {},
        {"roles": ["customer"]},
        {"roles": ["seller"], "seller_id": world.seller_b},
    ):
        seen = await gql.ok(SHOPPER_VIEW, variables, **caller)
        assert {k: seen["product"][k] for k in gone} == gone, caller
        assert seen["product"]["name"] == product["name"]  # order history can still name it
        assert seen["productBySlug"] == gone
        assert seen["_entities"] == [gone]
    for caller in ({"roles": ["admin"]}, {"roles": ["seller"], "seller_id": world.seller_a}):
        seen = await gql.ok(SHOPPER_VIEW, variables, **caller)
        assert seen["product"]["listings"] == [{"sku": listing["sku"]}], caller
        assert seen["product"]["availability"] == "IN_STOCK"
