"""Categories: the tree, its reads and its changes.

Every change of a category document is one leased, versioned write with its
CategoryChanged event (``db.categories.update``). Structural changes (create, move, delete,
repair) also hold the tree lease and first re-derive every ``ancestors`` list from the
``parent_id`` chain, so a move interrupted half-way is completed by the next structural
change (or ``emporium-catalog repair-tree``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from emporium_kit.documents import ChangeResult, Lease, now
from emporium_kit.errors import Conflict, NotFound
from pymongo.errors import DuplicateKeyError

from emporium_catalog import events
from emporium_catalog.domain import (
    TreeNode,
    ancestors_for_child_of,
    check_depth,
    check_move,
    slugify,
    subtree_height,
)
from emporium_catalog.models import CategoryCreate, CategoryRead, CategoryUpdate
from emporium_catalog.store import CatalogDb, new_id

Doc = dict[str, Any]

# Deleted categories stay as tombstones until the relay has published their CategoryChanged
# (the event must live in a document); every read skips them.
LIVE: dict[str, Any] = {"deleted": {"$ne": True}}
_PROJECTION = {"outbox": 0}
_TREE = "category-tree"


# ------------------------------------------------------------------------------------ reads


async def get_categories(*, db: CatalogDb, ids: Sequence[str]) -> dict[str, CategoryRead]:
    docs = await db.categories.find({"_id": {"$in": list(set(ids))}, **LIVE}, _PROJECTION)
    return {doc["_id"]: CategoryRead.from_doc(doc) for doc in docs}


async def get_category_by_slug(*, db: CatalogDb, slug: str) -> CategoryRead | None:
    doc = await db.categories.find_one({"slug": slug, **LIVE}, _PROJECTION)
    return CategoryRead.from_doc(doc) if doc else None


async def list_children(*, db: CatalogDb, parent_id: str | None) -> list[CategoryRead]:
    """Children of ``parent_id`` by name; the roots when ``parent_id`` is ``None``."""
    docs = await db.categories.find(
        {"parent_id": parent_id, **LIVE}, _PROJECTION, sort=[("name", 1)]
    )
    return [CategoryRead.from_doc(doc) for doc in docs]


async def children_of(*, db: CatalogDb, parent_ids: Sequence[str]) -> dict[str, list[CategoryRead]]:
    """Children (by name) of several categories in one query."""
    found: dict[str, list[CategoryRead]] = {parent: [] for parent in parent_ids}
    docs = await db.categories.find(
        {"parent_id": {"$in": list(found)}, **LIVE}, _PROJECTION, sort=[("name", 1)]
    )
    for doc in docs:
        found[doc["parent_id"]].append(CategoryRead.from_doc(doc))
    return found


async def subtree_ids(*, db: CatalogDb, category_id: str) -> list[str]:
    """``category_id`` first, then every category below it (empty if it does not exist)."""
    docs = await db.categories.find(
        {"$or": [{"_id": category_id}, {"ancestors": category_id}], **LIVE}, {"_id": 1}
    )
    return sorted((doc["_id"] for doc in docs), key=lambda i: i != category_id)


# ----------------------------------------------------------------------------------- writes


def tree_lock(*, db: CatalogDb) -> AbstractAsyncContextManager[Lease]:
    """Serialises structural category changes (create, move, delete, repair)."""
    return db.leases.hold(
        _TREE,
        busy=lambda: Conflict(
            "CATEGORY_TREE_BUSY", "another category change is in progress; retry"
        ),
    )


def _node(doc: Doc) -> TreeNode:
    return TreeNode(
        id=doc["_id"], parent_id=doc.get("parent_id"), ancestors=tuple(doc.get("ancestors", []))
    )


async def _load(db: CatalogDb, category_id: str, *, field: list[str | int]) -> Doc:
    doc = await db.categories.get(category_id, _PROJECTION)
    if doc is None or doc.get("deleted"):
        raise NotFound("CATEGORY_NOT_FOUND", "no such category", field)
    return doc


async def _duplicate(db: CatalogDb, category_id: str, name: str) -> Conflict:
    """Which unique value clashed: FerretDB's duplicate-key error does not name the index."""
    if await db.categories.exists({"name": name, "_id": {"$ne": category_id}}):
        return Conflict("NAME_TAKEN", "a category with this name exists", ["input", "name"])
    return Conflict("SLUG_TAKEN", "a category with this slug exists", ["input", "slug"])


def _category_change(
    doc: Doc,
    changes: dict[str, Any],
    change: events.CategoryChange,
    *,
    event_view: dict[str, Any] | None = None,
) -> ChangeResult:
    """The fields and CategoryChanged event of ``changes`` to ``doc``. ``event_view``
    overrides what the event reports (a tombstone reports the old name)."""
    changes = {**changes, "updated_at": now()}
    after = {**doc, **changes, "version": doc["version"] + 1}
    return changes, [events.category_changed({**after, **(event_view or {})}, change=change)]


async def _write(
    db: CatalogDb, category_id: str, change: Callable[[Doc], ChangeResult], *, name: str
) -> CategoryRead:
    try:
        written = await db.categories.update(category_id, change)
    except DuplicateKeyError:
        raise await _duplicate(db, category_id, name) from None
    return CategoryRead.from_doc(written)


def _live(change: Callable[[Doc], ChangeResult]) -> Callable[[Doc], ChangeResult]:
    """``change`` for a category that must not be a tombstone."""

    def guarded(doc: Doc) -> ChangeResult:
        if doc.get("deleted"):
            raise NotFound("CATEGORY_NOT_FOUND", "no such category", ["id"])
        return change(doc)

    return guarded


async def repair_category_paths(*, db: CatalogDb) -> int:
    """Re-derive every ``ancestors`` list from the ``parent_id`` chain and purge tombstones
    whose events are published. Returns how many categories were fixed; each fix is its own
    versioned update with a CategoryChanged(MOVED). Hold :func:`tree_lock` around it."""
    await db.categories.delete_many({"deleted": True, "outbox.id": {"$exists": False}})
    docs = {d["_id"]: d for d in await db.categories.find(LIVE, _PROJECTION)}

    def chain(category_id: str) -> list[str]:
        path: list[str] = []
        parent = docs[category_id].get("parent_id")
        while parent is not None and parent in docs and parent not in path:
            path.append(parent)
            parent = docs[parent].get("parent_id")
        return path[::-1]

    fixed = 0
    for category_id, doc in docs.items():
        expected = chain(category_id)
        if list(doc.get("ancestors", [])) == expected:
            continue

        def rederive(current: Doc, expected: list[str] = expected) -> ChangeResult:
            if list(current.get("ancestors", [])) == expected:
                return None
            return _category_change(current, {"ancestors": expected}, "MOVED")

        await _write(db, category_id, _live(rederive), name=doc["name"])
        fixed += 1
    return fixed


async def create_category(*, db: CatalogDb, data: CategoryCreate) -> CategoryRead:
    async with tree_lock(db=db):
        await repair_category_paths(db=db)
        parent = None
        if data.parent_id is not None:
            parent = _node(await _load(db, data.parent_id, field=["input", "parentId"]))
        ancestors = ancestors_for_child_of(parent)
        check_depth(ancestors, field=["input", "parentId"])
        moment = now()
        doc: Doc = {
            "_id": new_id(),
            "name": data.name,
            "slug": data.slug or slugify(data.name),
            "parent_id": data.parent_id,
            "ancestors": list(ancestors),
            "version": 1,
            "created_at": moment,
            "updated_at": moment,
        }
        category = CategoryRead.from_doc(doc)
        try:
            await db.categories.insert(doc, [events.category_changed(doc, change="CREATED")])
        except DuplicateKeyError:
            raise await _duplicate(db, category.id, category.name) from None
        return category


async def update_category(*, db: CatalogDb, category_id: str, data: CategoryUpdate) -> CategoryRead:
    """Rename or re-slug a category (not structural: its own lease is enough)."""
    wanted = data.model_dump(exclude_none=True)

    def change(doc: Doc) -> ChangeResult:
        changes = {key: value for key, value in wanted.items() if doc.get(key) != value}
        return _category_change(doc, changes, "UPDATED") if changes else None

    return await _write(db, category_id, _live(change), name=wanted.get("name", ""))


async def move_category(*, db: CatalogDb, category_id: str, parent_id: str | None) -> CategoryRead:
    """Re-parent a category; its subtree follows. Moving under itself or a descendant is
    rejected (CATEGORY_CYCLE), as is a move that would nest deeper than the limit."""
    async with tree_lock(db=db):
        await repair_category_paths(db=db)
        doc = await _load(db, category_id, field=["id"])
        parent = None
        if parent_id is not None:
            parent = _node(await _load(db, parent_id, field=["parentId"]))
        node = _node(doc)
        check_move(node, parent, field=["parentId"])
        if node.parent_id == parent_id:
            return CategoryRead.from_doc(doc)
        descendants = [
            _node(d)
            for d in await db.categories.find({"ancestors": category_id, **LIVE}, {"ancestors": 1})
        ]
        ancestors = ancestors_for_child_of(parent)
        check_depth(
            ancestors,
            subtree_height=subtree_height(category_id, descendants),
            field=["parentId"],
        )
        moves = {"parent_id": parent_id, "ancestors": list(ancestors)}
        moved = await _write(
            db,
            category_id,
            _live(lambda current: _category_change(current, moves, "MOVED")),
            name=doc["name"],
        )
        # the subtree's ancestor lists now disagree with the parent chain: re-derive them
        await repair_category_paths(db=db)
        return moved


async def delete_category(*, db: CatalogDb, category_id: str) -> str:
    """Delete an empty leaf category. The document becomes a tombstone carrying the
    CategoryChanged(DELETED) event (its unique name and slug freed) until it is published."""
    async with tree_lock(db=db):
        doc = await _load(db, category_id, field=["id"])
        if await db.categories.exists({"parent_id": category_id, **LIVE}):
            raise Conflict(
                "CATEGORY_HAS_CHILDREN",
                "the category has child categories; move or delete them first",
                ["id"],
            )
        if await db.products.exists({"category_id": category_id}):
            raise Conflict(
                "CATEGORY_HAS_PRODUCTS",
                "products still belong to the category; move or archive them first",
                ["id"],
            )
        tombstone = {
            "deleted": True,
            "name": f"~deleted~{category_id}",
            "slug": f"deleted-{category_id.lower()}",
        }

        def delete(current: Doc) -> ChangeResult:
            view = {"name": current["name"], "slug": current["slug"]}
            return _category_change(current, tombstone, "DELETED", event_view=view)

        await _write(db, category_id, _live(delete), name=doc["name"])
        return category_id
