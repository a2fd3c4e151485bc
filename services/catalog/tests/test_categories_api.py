"""The category tree through /graphql: queries, moves (cycles rejected), deletes."""

from __future__ import annotations

from typing import Any

import pytest
from emporium_catalog.store import CATEGORIES
from ulid import ULID

from .conftest import Gql, World

pytestmark = pytest.mark.integration

# a document's state without its outbox, which the relay empties in the background
STATE = {"outbox": 0}

CREATE = """
mutation($i: CreateCategoryInput!) {
  createCategory(input: $i) { id name slug depth parentId ancestors { id } }
}"""
MOVE = """
mutation($id: ID!, $p: ID) {
  moveCategory(id: $id, parentId: $p) { id parentId depth ancestors { id } }
}"""
DELETE = "mutation($id: ID!) { deleteCategory(id: $id) }"
TREE = """
query($id: ID!) {
  category(id: $id) {
    id name depth
    parent { id }
    ancestors { id name }
    children { id name children { id name } }
  }
}"""


async def make(gql: Gql, name: str, parent: str | None = None) -> dict[str, Any]:
    data = await gql.ok(CREATE, {"i": {"name": name, "parentId": parent}}, roles=["admin"])
    return data["createCategory"]


@pytest.fixture
async def tree(gql: Gql) -> dict[str, str]:
    """top > mid > low > leaf, plus side (a separate root)."""
    tag = str(ULID())[-8:]
    top = await make(gql, f"Top {tag}")
    mid = await make(gql, f"Mid {tag}", top["id"])
    low = await make(gql, f"Low {tag}", mid["id"])
    leaf = await make(gql, f"Leaf {tag}", low["id"])
    side = await make(gql, f"Side {tag}")
    return {
        "top": top["id"],
        "mid": mid["id"],
        "low": low["id"],
        "leaf": leaf["id"],
        "side": side["id"],
        "tag": tag,
    }


async def test_tree_queries(gql: Gql, tree: dict[str, str]) -> None:
    low = (await gql.ok(TREE, {"id": tree["low"]}))["category"]
    assert low["depth"] == 3
    assert low["parent"] == {"id": tree["mid"]}
    assert [a["id"] for a in low["ancestors"]] == [tree["top"], tree["mid"]]  # breadcrumbs
    assert [c["id"] for c in low["children"]] == [tree["leaf"]]

    roots = (await gql.ok("{ rootCategories { id depth parent { id } } }"))["rootCategories"]
    assert {"id": tree["top"], "depth": 1, "parent": None} in roots
    assert tree["mid"] not in {r["id"] for r in roots}
    children = await gql.ok("query($p: ID) { categories(parentId: $p) { id } }", {"p": tree["top"]})
    assert children["categories"] == [{"id": tree["mid"]}]

    by_slug = await gql.ok(
        "query($s: String) { category(slug: $s) { id } }", {"s": f"mid-{tree['tag'].lower()}"}
    )
    assert by_slug["category"] == {"id": tree["mid"]}
    both = await gql.error(
        "query($s: String, $i: ID) { category(id: $i, slug: $s) { id } }", {"s": "a", "i": "b"}
    )
    assert both["extensions"]["code"] == "INVALID_ARGUMENTS"


async def test_moving_under_itself_or_a_descendant_is_rejected(
    gql: Gql, tree: dict[str, str], db: Any
) -> None:
    before = await db[CATEGORIES].find({"name": {"$regex": tree["tag"]}}, STATE).to_list()
    for parent in (tree["mid"], tree["low"], tree["leaf"]):
        error = await gql.error(MOVE, {"id": tree["mid"], "p": parent}, roles=["admin"])
        assert error["extensions"]["code"] == "CATEGORY_CYCLE"
        assert error["extensions"]["field"] == ["parentId"]
    assert await db[CATEGORIES].find({"name": {"$regex": tree["tag"]}}, STATE).to_list() == before


async def test_move_carries_the_subtree(gql: Gql, tree: dict[str, str]) -> None:
    moved = (await gql.ok(MOVE, {"id": tree["mid"], "p": tree["side"]}, roles=["admin"]))[
        "moveCategory"
    ]
    assert moved["parentId"] == tree["side"]
    assert [a["id"] for a in moved["ancestors"]] == [tree["side"]]
    leaf = (await gql.ok(TREE, {"id": tree["leaf"]}))["category"]
    assert [a["id"] for a in leaf["ancestors"]] == [tree["side"], tree["mid"], tree["low"]]
    assert leaf["depth"] == 4
    top = (await gql.ok(TREE, {"id": tree["top"]}))["category"]
    assert top["children"] == []

    # to the root level and back
    root = (await gql.ok(MOVE, {"id": tree["low"], "p": None}, roles=["admin"]))["moveCategory"]
    assert (root["parentId"], root["depth"], root["ancestors"]) == (None, 1, [])
    leaf = (await gql.ok(TREE, {"id": tree["leaf"]}))["category"]
    assert [a["id"] for a in leaf["ancestors"]] == [tree["low"]]


async def test_products_follow_a_moved_category_in_subtree_filters(
    gql: Gql, tree: dict[str, str], world: World
) -> None:
    product = await gql.ok(
        "mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }",
        {
            "i": {
                "name": "Tree Product",
                "brand": "B",
                "categoryId": tree["leaf"],
                "sku": f"T-{ULID()}",
                "price": {"amount": 100, "currency": "USD"},
            }
        },
        roles=["admin"],
    )
    product_id = product["createProduct"]["id"]
    listing = (
        "query($c: ID!) { category(id: $c) { products(first: 50) { edges { node { id } } } } }"
    )

    async def listed_under(category: str) -> bool:
        data = await gql.ok(listing, {"c": category})
        return product_id in {e["node"]["id"] for e in data["category"]["products"]["edges"]}

    assert await listed_under(tree["top"])
    assert not await listed_under(tree["side"])
    await gql.ok(MOVE, {"id": tree["mid"], "p": tree["side"]}, roles=["admin"])
    assert await listed_under(tree["side"])
    assert not await listed_under(tree["top"])


async def test_delete_rules(gql: Gql, tree: dict[str, str], world: World) -> None:
    has_children = await gql.error(DELETE, {"id": tree["low"]}, roles=["admin"])
    assert (has_children["extensions"]["code"], has_children["extensions"]["field"]) == (
        "CATEGORY_HAS_CHILDREN",
        ["id"],
    )
    forbidden = await gql.error(
        DELETE, {"id": tree["leaf"]}, roles=["seller"], seller_id=world.seller_a
    )
    assert forbidden["extensions"]["code"] == "MISSING_ROLE"

    leaf = (await gql.ok(TREE, {"id": tree["leaf"]}))["category"]
    assert (await gql.ok(DELETE, {"id": tree["leaf"]}, roles=["admin"]))["deleteCategory"] == tree[
        "leaf"
    ]
    assert (await gql.ok(TREE, {"id": tree["leaf"]}))["category"] is None
    low = (await gql.ok(TREE, {"id": tree["low"]}))["category"]
    assert low["children"] == []
    # the name and slug are free again
    again = await make(gql, leaf["name"], tree["low"])
    assert again["id"] != tree["leaf"]
    gone = await gql.error(DELETE, {"id": tree["leaf"]}, roles=["admin"])
    assert gone["extensions"]["code"] == "CATEGORY_NOT_FOUND"


async def test_category_with_products_cannot_be_deleted(gql: Gql, tree: dict[str, str]) -> None:
    await gql.ok(
        "mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }",
        {
            "i": {
                "name": "Pinned",
                "brand": "B",
                "categoryId": tree["leaf"],
                "sku": f"T-{ULID()}",
                "price": {"amount": 100, "currency": "USD"},
            }
        },
        roles=["admin"],
    )
    error = await gql.error(DELETE, {"id": tree["leaf"]}, roles=["admin"])
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "CATEGORY_HAS_PRODUCTS",
        ["id"],
    )


async def test_duplicate_names_and_bad_parents(gql: Gql, tree: dict[str, str]) -> None:
    name = f"Unique {tree['tag']}"
    await make(gql, name)
    dup_name = await gql.error(CREATE, {"i": {"name": name}}, roles=["admin"])
    assert (dup_name["extensions"]["code"], dup_name["extensions"]["field"]) == (
        "NAME_TAKEN",
        ["input", "name"],
    )
    dup_slug = await gql.error(
        CREATE,
        {"i": {"name": f"Other {tree['tag']}", "slug": f"unique-{tree['tag'].lower()}"}},
        roles=["admin"],
    )
    assert (dup_slug["extensions"]["code"], dup_slug["extensions"]["field"]) == (
        "SLUG_TAKEN",
        ["input", "slug"],
    )
    orphan = await gql.error(
        CREATE,
        {"i": {"name": f"Orphan {tree['tag']}", "parentId": "01JNOSUCHCATEGORY00000000"}},
        roles=["admin"],
    )
    assert (orphan["extensions"]["code"], orphan["extensions"]["field"]) == (
        "CATEGORY_NOT_FOUND",
        ["input", "parentId"],
    )
    renamed = await gql.ok(
        """mutation($id: ID!, $i: UpdateCategoryInput!) {
             updateCategory(id: $id, input: $i) { name version }
           }""",
        {"id": tree["side"], "i": {"name": f"Renamed {tree['tag']}"}},
        roles=["admin"],
    )
    assert renamed["updateCategory"] == {"name": f"Renamed {tree['tag']}", "version": 2}
