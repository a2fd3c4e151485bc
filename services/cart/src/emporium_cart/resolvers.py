"""GraphQL resolvers: validate input, check the caller, call the use case, shape the result.

Errors are GraphQL errors with ``extensions: {code, kind, field}`` (the kit's format).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ariadne import MutationType, QueryType, ScalarType
from ariadne.contrib.federation import FederatedObjectType
from emporium_kit.auth import require_principal
from emporium_kit.context import RequestContext
from emporium_kit.errors import parse_input
from emporium_kit.loaders import Loader, keyed_loader
from graphql import GraphQLResolveInfo

from emporium_cart import items
from emporium_cart.models import ItemCreate, ItemRead, ItemRename
from emporium_cart.store import CartDb


@dataclass(frozen=True, slots=True)
class Cart:
    """The service's long-lived parts, built once by ``create_app``."""

    db: CartDb


@dataclass(frozen=True, slots=True)
class CartContext(RequestContext):
    """What a resolver reads (``CartContext.of(info)``): the store and this
    request's loaders, so every ``load(id)`` made in one tick becomes one lookup."""

    db: CartDb
    items: Loader[str, ItemRead]


def request_context(service: Cart) -> Callable[[Any], CartContext]:
    """The ``context`` factory for ``build_app``: fresh loaders per request."""
    db = service.db

    def build(_request: Any) -> CartContext:
        return CartContext(
            db=db, items=keyed_loader(lambda ids: items.get_items(db=db, ids=ids))
        )

    return build


query = QueryType()
mutation = MutationType()
item_type = FederatedObjectType("CartItem")
datetime_scalar = ScalarType("DateTime", serializer=lambda value: value.isoformat())


@query.field("cartItem")
async def resolve_item(_: Any, info: GraphQLResolveInfo, id: str) -> ItemRead | None:
    return await CartContext.of(info).items.load(id)


@mutation.field("createCartItem")
async def resolve_create_item(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> ItemRead:
    require_principal(info)
    data = parse_input(ItemCreate, input, at=["input"], code="VALIDATION_FAILED")
    return await items.create_item(db=CartContext.of(info).db, data=data)


@mutation.field("renameCartItem")
async def resolve_rename_item(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> ItemRead:
    require_principal(info)
    data = parse_input(ItemRename, input, at=["input"], code="VALIDATION_FAILED")
    return await items.rename_item(db=CartContext.of(info).db, data=data)


@item_type.reference_resolver
async def resolve_item_reference(
    _: Any, info: GraphQLResolveInfo, representation: dict[str, Any]
) -> ItemRead | None:
    return await CartContext.of(info).items.load(representation["id"])


bindables = [query, mutation, item_type, datetime_scalar]
