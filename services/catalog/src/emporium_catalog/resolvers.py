"""GraphQL resolvers: validate input, check roles, call the service, shape the result.

Errors are GraphQL errors with ``extensions: {code, kind, field}`` (the kit's format):
``field`` is the GraphQL path of the offending input in camelCase, e.g.
``["input", "price", "amount"]``; a VALIDATION_FAILED error lists every problem under
``extensions.errors``.

Per request the context carries a :class:`CatalogContext` (stores) and :class:`Loaders`
(DataLoaders), so ``_entities`` for N products, or the categories and sellers of a page of
products, cost one batched lookup each instead of N.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from aiodataloader import DataLoader
from ariadne import MutationType, ObjectType, QueryType, ScalarType
from ariadne.contrib.federation import FederatedObjectType
from emporium_catalog import service
from emporium_catalog.cache import ProductCache
from emporium_catalog.domain import (
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
from emporium_catalog.service import Db
from emporium_kit.auth import principal_from, require_roles
from emporium_kit.errors import ValidationFailed, parse_input
from graphql import GraphQLResolveInfo
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
K = TypeVar("K")
V = TypeVar("V")

ADMIN = "admin"
SELLER = "seller"


def _nothing(_collection: str, _document_id: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class CatalogContext:
    db: Db
    cache: ProductCache | None
    cursor_secret: bytes
    # (collection, document id) of a write with events: wakes the outbox relay for exactly
    # that document, so the events leave in milliseconds instead of at the next sweep
    events_written: Callable[[str, str], None] = _nothing


def _loader(fetch: Callable[[Sequence[K]], Awaitable[dict[K, V]]]) -> DataLoader[K, V | None]:
    async def batch(keys: list[K]) -> list[V | None]:
        found = await fetch(keys)
        return [found.get(key) for key in keys]

    return DataLoader(batch_load_fn=batch)


@dataclass
class Loaders:
    """Per-request DataLoaders: every ``load(id)`` made in one tick becomes one lookup."""

    catalog: CatalogContext
    products: DataLoader[str, ProductRead | None] = field(init=False)
    categories: DataLoader[str, CategoryRead | None] = field(init=False)
    sellers: DataLoader[str, SellerRead | None] = field(init=False)
    children: DataLoader[str, list[CategoryRead] | None] = field(init=False)

    def __post_init__(self) -> None:
        db, cache = self.catalog.db, self.catalog.cache
        self.products = _loader(lambda ids: service.get_products(db=db, cache=cache, ids=ids))
        self.categories = _loader(lambda ids: service.get_categories(db=db, ids=ids))
        self.sellers = _loader(lambda ids: service.get_sellers(db=db, ids=ids))
        self.children = _loader(lambda ids: service.children_of(db=db, parent_ids=ids))


def request_context(catalog: CatalogContext) -> Callable[[Any], dict[str, Any]]:
    """The ``context`` factory for ``build_app``: fresh loaders per request."""

    def build(_request: Any) -> dict[str, Any]:
        return {"catalog": catalog, "loaders": Loaders(catalog)}

    return build


def _catalog(info: GraphQLResolveInfo) -> CatalogContext:
    return info.context["catalog"]


def _loaders(info: GraphQLResolveInfo) -> Loaders:
    return info.context["loaders"]


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
    return _as_seen_by(info, await _loaders(info).products.load(_id(id)))


@query.field("productBySlug")
async def resolve_product_by_slug(
    _: Any, info: GraphQLResolveInfo, slug: str
) -> ProductRead | None:
    slug = _slug(slug)
    ctx = _catalog(info)
    product = await service.get_product_by_slug(db=ctx.db, cache=ctx.cache, slug=slug)
    return _as_seen_by(info, product)


@dataclass
class ProductConnection:
    """A page of products; ``totalCount`` runs its count only when selected."""

    page: service.ProductPage
    sort: ProductSort
    secret: bytes
    db: Db
    has_previous: bool

    def cursor_of(self, product: ProductRead) -> str:
        key = sort_key_of(self.sort, product)
        return encode_cursor(Cursor(self.sort, key, product.id), secret=self.secret)


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
    return await service.count_products(db=conn.db, query=conn.page.query)


async def _products_connection(
    info: GraphQLResolveInfo,
    *,
    flt: ProductFilterInput,
    sort: str,
    first: int | None,
    after: str | None,
) -> ProductConnection:
    if flt.status is ProductStatus.ARCHIVED:
        require_roles(info, SELLER, ADMIN)
    ctx = _catalog(info)
    order = ProductSort(sort)
    size = page_size(first)
    position = decode_cursor(after, sort=order, secret=ctx.cursor_secret) if after else None
    page = await service.list_products(db=ctx.db, flt=flt, sort=order, first=size, after=position)
    return ProductConnection(
        page=page, sort=order, secret=ctx.cursor_secret, db=ctx.db, has_previous=after is not None
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


@query.field("category")
async def resolve_category(
    _: Any, info: GraphQLResolveInfo, id: str | None = None, slug: str | None = None
) -> CategoryRead | None:
    if (id is None) == (slug is None):
        raise ValidationFailed("INVALID_ARGUMENTS", "give exactly one of id and slug", ["id"])
    if id is not None:
        return await _loaders(info).categories.load(_id(id))
    slug = _slug(slug)
    return await service.get_category_by_slug(db=_catalog(info).db, slug=slug)


@query.field("categories")
async def resolve_categories(
    _: Any, info: GraphQLResolveInfo, parent_id: str | None = None
) -> list[CategoryRead]:
    parent = _id(parent_id, "parentId") if parent_id is not None else None
    return await service.list_children(db=_catalog(info).db, parent_id=parent)


@query.field("rootCategories")
async def resolve_root_categories(_: Any, info: GraphQLResolveInfo) -> list[CategoryRead]:
    return await service.list_children(db=_catalog(info).db, parent_id=None)


@query.field("sellers")
async def resolve_sellers(_: Any, info: GraphQLResolveInfo) -> list[SellerRead]:
    return await service.list_sellers(db=_catalog(info).db)


# ---------------------------------------------------------------------------------- entities

product_type = FederatedObjectType("Product")


@product_type.reference_resolver
async def resolve_product_reference(
    _: Any, info: GraphQLResolveInfo, representation: dict[str, Any]
) -> ProductRead | None:
    return _as_seen_by(info, await _loaders(info).products.load(str(representation["id"])))


@product_type.field("category")
async def resolve_product_category(
    product: ProductRead, info: GraphQLResolveInfo
) -> CategoryRead | None:
    return await _loaders(info).categories.load(product.category_id)


listing_type = ObjectType("Listing")


@listing_type.field("seller")
async def resolve_listing_seller(listing: Any, info: GraphQLResolveInfo) -> SellerRead | None:
    return await _loaders(info).sellers.load(listing.seller_id)


money_type = ObjectType("Money")


@money_type.field("formatted")
def resolve_money_formatted(money: MoneyRead, _info: GraphQLResolveInfo) -> str:
    return money.formatted()


category_type = FederatedObjectType("Category")


@category_type.reference_resolver
async def resolve_category_reference(
    _: Any, info: GraphQLResolveInfo, representation: dict[str, Any]
) -> CategoryRead | None:
    return await _loaders(info).categories.load(str(representation["id"]))


@category_type.field("parent")
async def resolve_category_parent(
    category: CategoryRead, info: GraphQLResolveInfo
) -> CategoryRead | None:
    if category.parent_id is None:
        return None
    return await _loaders(info).categories.load(category.parent_id)


@category_type.field("ancestors")
async def resolve_category_ancestors(
    category: CategoryRead, info: GraphQLResolveInfo
) -> list[CategoryRead]:
    found = await _loaders(info).categories.load_many(category.ancestors)
    return [c for c in found if c is not None]


@category_type.field("children")
async def resolve_category_children(
    category: CategoryRead, info: GraphQLResolveInfo
) -> list[CategoryRead]:
    return await _loaders(info).children.load(category.id) or []


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

R = TypeVar("R")


def _emits(
    collection: str,
) -> Callable[[Callable[..., Awaitable[R]]], Callable[..., Awaitable[R]]]:
    """Point the outbox relay at the document the mutation wrote (and its events)."""

    def decorate(resolver: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
        @functools.wraps(resolver)
        async def wrapper(obj: Any, info: GraphQLResolveInfo, **kwargs: Any) -> R:
            result = await resolver(obj, info, **kwargs)
            document_id = result if isinstance(result, str) else result.id  # type: ignore[attr-defined]
            _catalog(info).events_written(collection, document_id)
            return result

        return wrapper

    return decorate


@mutation.field("createProduct")
@_emits(service.PRODUCTS)
async def resolve_create_product(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> ProductRead:
    principal = require_roles(info, SELLER, ADMIN)
    data = parse(ProductCreate, input, at=["input"])
    ctx = _catalog(info)
    return await service.create_product(db=ctx.db, cache=ctx.cache, data=data, principal=principal)


@mutation.field("updateProduct")
@_emits(service.PRODUCTS)
async def resolve_update_product(
    _: Any, info: GraphQLResolveInfo, id: str, input: dict[str, Any]
) -> ProductRead:
    principal = require_roles(info, SELLER, ADMIN)
    data = parse(ProductUpdate, input, at=["input"])
    ctx = _catalog(info)
    return await service.update_product(
        db=ctx.db, cache=ctx.cache, product_id=_id(id), data=data, principal=principal
    )


@mutation.field("archiveProduct")
@_emits(service.PRODUCTS)
async def resolve_archive_product(_: Any, info: GraphQLResolveInfo, id: str) -> ProductRead:
    principal = require_roles(info, SELLER, ADMIN)
    ctx = _catalog(info)
    return await service.archive_product(
        db=ctx.db, cache=ctx.cache, product_id=_id(id), principal=principal
    )


@mutation.field("setPrice")
@_emits(service.PRODUCTS)
async def resolve_set_price(
    _: Any, info: GraphQLResolveInfo, id: str, price: dict[str, Any]
) -> ProductRead:
    principal = require_roles(info, SELLER, ADMIN)
    money = parse(MoneyInput, price, at=["price"])
    ctx = _catalog(info)
    return await service.set_price(
        db=ctx.db, cache=ctx.cache, product_id=_id(id), price=money, principal=principal
    )


@mutation.field("upsertListing")
@_emits(service.PRODUCTS)
async def resolve_upsert_listing(
    _: Any, info: GraphQLResolveInfo, product_id: str, input: dict[str, Any]
) -> ProductRead:
    principal = require_roles(info, SELLER, ADMIN)
    data = parse(ListingInput, input, at=["input"])
    ctx = _catalog(info)
    return await service.upsert_listing(
        db=ctx.db,
        cache=ctx.cache,
        product_id=_id(product_id, "productId"),
        data=data,
        principal=principal,
    )


@mutation.field("removeListing")
@_emits(service.PRODUCTS)
async def resolve_remove_listing(
    _: Any, info: GraphQLResolveInfo, product_id: str, seller_id: str
) -> ProductRead:
    principal = require_roles(info, SELLER, ADMIN)
    ctx = _catalog(info)
    return await service.remove_listing(
        db=ctx.db,
        cache=ctx.cache,
        product_id=_id(product_id, "productId"),
        seller_id=_id(seller_id, "sellerId"),
        principal=principal,
    )


@mutation.field("createCategory")
@_emits(service.CATEGORIES)
async def resolve_create_category(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> CategoryRead:
    require_roles(info, ADMIN)
    data = parse(CategoryCreate, input, at=["input"])
    return await service.create_category(db=_catalog(info).db, data=data)


@mutation.field("updateCategory")
@_emits(service.CATEGORIES)
async def resolve_update_category(
    _: Any, info: GraphQLResolveInfo, id: str, input: dict[str, Any]
) -> CategoryRead:
    require_roles(info, ADMIN)
    data = parse(CategoryUpdate, input, at=["input"])
    return await service.update_category(db=_catalog(info).db, category_id=_id(id), data=data)


@mutation.field("moveCategory")
@_emits(service.CATEGORIES)
async def resolve_move_category(
    _: Any, info: GraphQLResolveInfo, id: str, parent_id: str | None = None
) -> CategoryRead:
    require_roles(info, ADMIN)
    parent = _id(parent_id, "parentId") if parent_id is not None else None
    return await service.move_category(db=_catalog(info).db, category_id=_id(id), parent_id=parent)


@mutation.field("deleteCategory")
@_emits(service.CATEGORIES)
async def resolve_delete_category(_: Any, info: GraphQLResolveInfo, id: str) -> str:
    require_roles(info, ADMIN)
    return await service.delete_category(db=_catalog(info).db, category_id=_id(id))


@mutation.field("createSeller")
async def resolve_create_seller(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> SellerRead:
    require_roles(info, ADMIN)
    data = parse(SellerCreate, input, at=["input"])
    return await service.create_seller(db=_catalog(info).db, data=data)


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
