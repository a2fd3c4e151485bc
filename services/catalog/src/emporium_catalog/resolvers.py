"""GraphQL resolvers: validate input, check roles, call the service, shape the result.

Errors are GraphQL errors with ``extensions: {code, kind, field}`` (the kit's format):
``field`` is the GraphQL path of the offending input in camelCase, e.g.
``["input", "price", "amount"]``; a VALIDATION_FAILED error lists every problem under
``extensions.errors``.

Per request the context carries a :class:`CatalogContext`: the stores and keyed loaders, so
``_entities`` for N products, or the categories and sellers of a page of products, cost one
batched lookup each instead of N.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from ariadne import MutationType, ObjectType, QueryType, ScalarType
from ariadne.contrib.federation import FederatedObjectType
from emporium_kit.auth import principal_from, require_roles
from emporium_kit.context import RequestContext
from emporium_kit.cursors import Cursors
from emporium_kit.errors import ValidationFailed, parse_input
from emporium_kit.loaders import Loader, keyed_loader
from graphql import GraphQLResolveInfo
from pydantic import BaseModel, ValidationError

from emporium_catalog import categories, listings, products, sellers
from emporium_catalog.cache import ProductCache
from emporium_catalog.domain import (
    DEFAULT_PAGE_SIZE,
    EXPORT_DEFAULT_PAGE_SIZE,
    EXPORT_MAX_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Availability,
    Cursor,
    ProductSort,
    ProductStatus,
    decode_cursor,
    encode_cursor,
    page_size,
    sort_key_of,
)
from emporium_catalog.models import (
    CategoryCreate,
    CategoryRead,
    CategoryUpdate,
    Id,
    ListingInput,
    MoneyInput,
    MoneyRead,
    ProductCreate,
    ProductFilterInput,
    ProductRead,
    ProductUpdate,
    SellerCreate,
    SellerRead,
    Slug,
)
from emporium_catalog.store import CatalogDb

M = TypeVar("M", bound=BaseModel)

ADMIN = "admin"
SELLER = "seller"


@dataclass(frozen=True, slots=True)
class Catalog:
    """The catalog's long-lived parts, shared by every request."""

    db: CatalogDb
    cache: ProductCache | None
    cursors: Cursors


@dataclass(frozen=True, slots=True)
class CatalogContext(RequestContext):
    """What a resolver reads (``CatalogContext.of(info)``): the stores and this request's
    loaders, so every ``load(id)`` made in one tick becomes one lookup."""

    db: CatalogDb
    cache: ProductCache | None
    cursors: Cursors
    products: Loader[str, ProductRead]
    categories: Loader[str, CategoryRead]
    sellers: Loader[str, SellerRead]
    children: Loader[str, list[CategoryRead]]


def request_context(catalog: Catalog) -> Callable[[Any], CatalogContext]:
    """The ``context`` factory for ``build_app``: fresh loaders per request."""
    db, cache = catalog.db, catalog.cache

    def build(_request: Any) -> CatalogContext:
        return CatalogContext(
            db=db,
            cache=cache,
            cursors=catalog.cursors,
            products=keyed_loader(lambda ids: products.get_products(db=db, cache=cache, ids=ids)),
            categories=keyed_loader(lambda ids: categories.get_categories(db=db, ids=ids)),
            sellers=keyed_loader(lambda ids: sellers.get_sellers(db=db, ids=ids)),
            children=keyed_loader(lambda ids: categories.children_of(db=db, parent_ids=ids)),
        )

    return build


def parse(model: type[M], value: Any, *, at: Sequence[str | int]) -> M:
    """Catalog input errors always carry VALIDATION_FAILED; the field path says which."""
    return parse_input(model, value, at=at, code="VALIDATION_FAILED")


class _IdArg(BaseModel):
    id: Id


class _SlugArg(BaseModel):
    slug: Slug


def _id(value: Any, at: str = "id") -> str:
    """A validated id argument; INVALID_ID at ``[at]`` otherwise."""
    try:
        return _IdArg.model_validate({"id": value}).id
    except ValidationError:
        raise ValidationFailed("INVALID_ID", "not a valid id", [at]) from None


def _slug(value: Any) -> str:
    try:
        return _SlugArg.model_validate({"slug": value}).slug
    except ValidationError:
        raise ValidationFailed("INVALID_SLUG", "not a valid slug", ["slug"]) from None


# ------------------------------------------------------------------------------------- scalars

datetime_scalar = ScalarType("DateTime")


@datetime_scalar.serializer
def serialize_datetime(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------------------------------- queries

query = QueryType()


def _as_seen_by(info: GraphQLResolveInfo, product: ProductRead | None) -> ProductRead | None:
    """An archived product stays readable (old links, carts and order history name it) but,
    to anyone but its owner seller and admins, as no longer available: no offers to buy from
    and availability DISCONTINUED."""
    if product is None or product.status is not ProductStatus.ARCHIVED:
        return product
    principal = principal_from(info)
    if principal is not None and (
        principal.is_admin
        or (principal.seller_id is not None and principal.seller_id == product.owner_seller_id)
    ):
        return product
    return product.model_copy(update={"listings": [], "availability": Availability.DISCONTINUED})


@query.field("product")
async def resolve_product(_: Any, info: GraphQLResolveInfo, id: str) -> ProductRead | None:
    return _as_seen_by(info, await CatalogContext.of(info).products.load(_id(id)))


@query.field("productBySlug")
async def resolve_product_by_slug(
    _: Any, info: GraphQLResolveInfo, slug: str
) -> ProductRead | None:
    slug = _slug(slug)
    ctx = CatalogContext.of(info)
    product = await products.get_product_by_slug(db=ctx.db, cache=ctx.cache, slug=slug)
    return _as_seen_by(info, product)


@dataclass
class ProductConnection:
    """A page of products; ``totalCount`` runs its count only when selected."""

    page: products.ProductPage
    sort: ProductSort
    cursors: Cursors
    db: CatalogDb
    has_previous: bool

    def cursor_of(self, product: ProductRead) -> str:
        key = sort_key_of(self.sort, product)
        return encode_cursor(Cursor(self.sort, key, product.id), cursors=self.cursors)


connection = ObjectType("ProductConnection")


@connection.field("edges")
def resolve_edges(conn: ProductConnection, _info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    return [{"cursor": conn.cursor_of(p), "node": p} for p in conn.page.items]


@connection.field("pageInfo")
def resolve_page_info(conn: ProductConnection, _info: GraphQLResolveInfo) -> dict[str, Any]:
    items = conn.page.items
    return {
        "has_next_page": conn.page.has_next,
        "has_previous_page": conn.has_previous,
        "start_cursor": conn.cursor_of(items[0]) if items else None,
        "end_cursor": conn.cursor_of(items[-1]) if items else None,
    }


@connection.field("totalCount")
async def resolve_total_count(conn: ProductConnection, _info: GraphQLResolveInfo) -> int:
    return await products.count_products(db=conn.db, query=conn.page.query)


async def _products_connection(
    info: GraphQLResolveInfo,
    *,
    flt: ProductFilterInput,
    sort: str,
    first: int | None,
    after: str | None,
    default_size: int = DEFAULT_PAGE_SIZE,
    max_size: int = MAX_PAGE_SIZE,
) -> ProductConnection:
    if flt.status is ProductStatus.ARCHIVED:
        require_roles(info, SELLER, ADMIN)
    ctx = CatalogContext.of(info)
    order = ProductSort(sort)
    size = page_size(first, default=default_size, maximum=max_size)
    position = decode_cursor(after, sort=order, cursors=ctx.cursors) if after else None
    page = await products.list_products(db=ctx.db, flt=flt, sort=order, first=size, after=position)
    return ProductConnection(
        page=page, sort=order, cursors=ctx.cursors, db=ctx.db, has_previous=after is not None
    )


@query.field("products")
async def resolve_products(
    _: Any,
    info: GraphQLResolveInfo,
    filter: dict[str, Any] | None = None,
    sort: str = ProductSort.NEWEST.value,
    first: int | None = None,
    after: str | None = None,
) -> ProductConnection:
    flt = parse(ProductFilterInput, filter, at=["filter"])
    return await _products_connection(info, flt=flt, sort=sort, first=first, after=after)


@query.field("productExport")
async def resolve_product_export(
    _: Any, info: GraphQLResolveInfo, first: int | None = None, after: str | None = None
) -> ProductConnection:
    """Every active product, newest first, in pages of up to 2,000: the bulk read of the
    search rebuild. Each page is one pass over the store (a scan on FerretDB 1.24), so big
    pages make a rebuild a handful of passes rather than one per 100 products."""
    return await _products_connection(
        info,
        flt=ProductFilterInput(),
        sort=ProductSort.NEWEST.value,
        first=first,
        after=after,
        default_size=EXPORT_DEFAULT_PAGE_SIZE,
        max_size=EXPORT_MAX_PAGE_SIZE,
    )


@query.field("category")
async def resolve_category(
    _: Any, info: GraphQLResolveInfo, id: str | None = None, slug: str | None = None
) -> CategoryRead | None:
    if (id is None) == (slug is None):
        raise ValidationFailed("INVALID_ARGUMENTS", "give exactly one of id and slug", ["id"])
    if id is not None:
        return await CatalogContext.of(info).categories.load(_id(id))
    slug = _slug(slug)
    return await categories.get_category_by_slug(db=CatalogContext.of(info).db, slug=slug)


@query.field("categories")
async def resolve_categories(
    _: Any, info: GraphQLResolveInfo, parent_id: str | None = None
) -> list[CategoryRead]:
    parent = _id(parent_id, "parentId") if parent_id is not None else None
    return await categories.list_children(db=CatalogContext.of(info).db, parent_id=parent)


@query.field("rootCategories")
async def resolve_root_categories(_: Any, info: GraphQLResolveInfo) -> list[CategoryRead]:
    return await categories.list_children(db=CatalogContext.of(info).db, parent_id=None)


@query.field("sellers")
async def resolve_sellers(_: Any, info: GraphQLResolveInfo) -> list[SellerRead]:
    return await sellers.list_sellers(db=CatalogContext.of(info).db)


# ---------------------------------------------------------------------------------- entities

product_type = FederatedObjectType("Product")


@product_type.reference_resolver
async def resolve_product_reference(
    _: Any, info: GraphQLResolveInfo, representation: dict[str, Any]
) -> ProductRead | None:
    return _as_seen_by(info, await CatalogContext.of(info).products.load(str(representation["id"])))


@product_type.field("category")
async def resolve_product_category(
    product: ProductRead, info: GraphQLResolveInfo
) -> CategoryRead | None:
    return await CatalogContext.of(info).categories.load(product.category_id)


listing_type = ObjectType("Listing")


@listing_type.field("seller")
async def resolve_listing_seller(listing: Any, info: GraphQLResolveInfo) -> SellerRead | None:
    return await CatalogContext.of(info).sellers.load(listing.seller_id)


money_type = ObjectType("Money")


@money_type.field("formatted")
def resolve_money_formatted(money: MoneyRead, _info: GraphQLResolveInfo) -> str:
    return money.formatted()


category_type = FederatedObjectType("Category")


@category_type.reference_resolver
async def resolve_category_reference(
    _: Any, info: GraphQLResolveInfo, representation: dict[str, Any]
) -> CategoryRead | None:
    return await CatalogContext.of(info).categories.load(str(representation["id"]))


@category_type.field("parent")
async def resolve_category_parent(
    category: CategoryRead, info: GraphQLResolveInfo
) -> CategoryRead | None:
    if category.parent_id is None:
        return None
    return await CatalogContext.of(info).categories.load(category.parent_id)


@category_type.field("ancestors")
async def resolve_category_ancestors(
    category: CategoryRead, info: GraphQLResolveInfo
) -> list[CategoryRead]:
    found = await CatalogContext.of(info).categories.load_many(category.ancestors)
    return [c for c in found if c is not None]


@category_type.field("children")
async def resolve_category_children(
    category: CategoryRead, info: GraphQLResolveInfo
) -> list[CategoryRead]:
    return await CatalogContext.of(info).children.load(category.id) or []


@category_type.field("depth")
def resolve_category_depth(category: CategoryRead, _info: GraphQLResolveInfo) -> int:
    return category.depth


@category_type.field("products")
async def resolve_category_products(
    category: CategoryRead,
    info: GraphQLResolveInfo,
    sort: str = ProductSort.NEWEST.value,
    first: int | None = None,
    after: str | None = None,
) -> ProductConnection:
    flt = ProductFilterInput(category_id=category.id)
    return await _products_connection(info, flt=flt, sort=sort, first=first, after=after)


# ----------------------------------------------------------------------------------- mutations

mutation = MutationType()


@mutation.field("createProduct")
async def resolve_create_product(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> ProductRead:
    principal = require_roles(info, SELLER, ADMIN)
    data = parse(ProductCreate, input, at=["input"])
    ctx = CatalogContext.of(info)
    return await products.create_product(db=ctx.db, cache=ctx.cache, data=data, principal=principal)


@mutation.field("updateProduct")
async def resolve_update_product(
    _: Any, info: GraphQLResolveInfo, id: str, input: dict[str, Any]
) -> ProductRead:
    principal = require_roles(info, SELLER, ADMIN)
    data = parse(ProductUpdate, input, at=["input"])
    ctx = CatalogContext.of(info)
    return await products.update_product(
        db=ctx.db, cache=ctx.cache, product_id=_id(id), data=data, principal=principal
    )


@mutation.field("archiveProduct")
async def resolve_archive_product(_: Any, info: GraphQLResolveInfo, id: str) -> ProductRead:
    principal = require_roles(info, SELLER, ADMIN)
    ctx = CatalogContext.of(info)
    return await products.archive_product(
        db=ctx.db, cache=ctx.cache, product_id=_id(id), principal=principal
    )


@mutation.field("setPrice")
async def resolve_set_price(
    _: Any, info: GraphQLResolveInfo, id: str, price: dict[str, Any]
) -> ProductRead:
    principal = require_roles(info, SELLER, ADMIN)
    money = parse(MoneyInput, price, at=["price"])
    ctx = CatalogContext.of(info)
    return await products.set_price(
        db=ctx.db, cache=ctx.cache, product_id=_id(id), price=money, principal=principal
    )


@mutation.field("upsertListing")
async def resolve_upsert_listing(
    _: Any, info: GraphQLResolveInfo, product_id: str, input: dict[str, Any]
) -> ProductRead:
    principal = require_roles(info, SELLER, ADMIN)
    data = parse(ListingInput, input, at=["input"])
    ctx = CatalogContext.of(info)
    return await listings.upsert_listing(
        db=ctx.db,
        cache=ctx.cache,
        product_id=_id(product_id, "productId"),
        data=data,
        principal=principal,
    )


@mutation.field("removeListing")
async def resolve_remove_listing(
    _: Any, info: GraphQLResolveInfo, product_id: str, seller_id: str
) -> ProductRead:
    principal = require_roles(info, SELLER, ADMIN)
    ctx = CatalogContext.of(info)
    return await listings.remove_listing(
        db=ctx.db,
        cache=ctx.cache,
        product_id=_id(product_id, "productId"),
        seller_id=_id(seller_id, "sellerId"),
        principal=principal,
    )


@mutation.field("createCategory")
async def resolve_create_category(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> CategoryRead:
    require_roles(info, ADMIN)
    data = parse(CategoryCreate, input, at=["input"])
    return await categories.create_category(db=CatalogContext.of(info).db, data=data)


@mutation.field("updateCategory")
async def resolve_update_category(
    _: Any, info: GraphQLResolveInfo, id: str, input: dict[str, Any]
) -> CategoryRead:
    require_roles(info, ADMIN)
    data = parse(CategoryUpdate, input, at=["input"])
    return await categories.update_category(
        db=CatalogContext.of(info).db, category_id=_id(id), data=data
    )


@mutation.field("moveCategory")
async def resolve_move_category(
    _: Any, info: GraphQLResolveInfo, id: str, parent_id: str | None = None
) -> CategoryRead:
    require_roles(info, ADMIN)
    parent = _id(parent_id, "parentId") if parent_id is not None else None
    return await categories.move_category(
        db=CatalogContext.of(info).db, category_id=_id(id), parent_id=parent
    )


@mutation.field("deleteCategory")
async def resolve_delete_category(_: Any, info: GraphQLResolveInfo, id: str) -> str:
    require_roles(info, ADMIN)
    return await categories.delete_category(db=CatalogContext.of(info).db, category_id=_id(id))


@mutation.field("createSeller")
async def resolve_create_seller(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> SellerRead:
    require_roles(info, ADMIN)
    data = parse(SellerCreate, input, at=["input"])
    return await sellers.create_seller(db=CatalogContext.of(info).db, data=data)


bindables = [
    query,
    mutation,
    product_type,
    category_type,
    listing_type,
    money_type,
    connection,
    datetime_scalar,
]
