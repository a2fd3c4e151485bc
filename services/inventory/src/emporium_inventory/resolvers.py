"""GraphQL resolvers: validate input, check the caller, call the use case, shape the result.

Errors are GraphQL errors with ``extensions: {code, kind, field}`` (the kit's format).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ariadne import EnumType, MutationType, QueryType, ScalarType
from ariadne.contrib.federation import FederatedObjectType
from emporium_kit.auth import require_roles
from emporium_kit.context import RequestContext
from emporium_kit.errors import ValidationFailed, parse_input
from emporium_kit.loaders import Loader, keyed_loader
from graphql import GraphQLResolveInfo

from emporium_inventory import stock
from emporium_inventory.models import ReservationRead, ReservationStatus, StockAdjust, StockRead
from emporium_inventory.store import InventoryDb

MAX_SKUS = 100


@dataclass(frozen=True, slots=True)
class Inventory:
    """The service's long-lived parts, built once by ``create_app``."""

    db: InventoryDb


@dataclass(frozen=True, slots=True)
class InventoryContext(RequestContext):
    """What a resolver reads (``InventoryContext.of(info)``): the store and this request's
    loader, so every ``load(sku)`` made in one tick becomes one lookup per SKU."""

    db: InventoryDb
    stocks: Loader[str, StockRead]


def request_context(service: Inventory) -> Callable[[Any], InventoryContext]:
    """The ``context`` factory for ``build_app``: fresh loaders per request."""
    db = service.db

    def build(_request: Any) -> InventoryContext:
        return InventoryContext(
            db=db, stocks=keyed_loader(lambda skus: stock.get_stocks(db=db, skus=skus))
        )

    return build


query = QueryType()
mutation = MutationType()
stock_type = FederatedObjectType("InventoryStock")
reservation_type = FederatedObjectType("InventoryReservation")
status_enum = EnumType("InventoryReservationStatus", ReservationStatus)
datetime_scalar = ScalarType("DateTime", serializer=lambda value: value.isoformat())


@query.field("inventoryStock")
async def resolve_stock(_: Any, info: GraphQLResolveInfo, sku: str) -> StockRead | None:
    return await InventoryContext.of(info).stocks.load(sku)


@query.field("inventoryStocks")
async def resolve_stocks(
    _: Any, info: GraphQLResolveInfo, skus: list[str]
) -> list[StockRead | None]:
    if len(skus) > MAX_SKUS:
        raise ValidationFailed("TOO_MANY_SKUS", f"at most {MAX_SKUS} SKUs", ["skus"])
    return await InventoryContext.of(info).stocks.load_many(skus)


@query.field("inventoryReservation")
async def resolve_reservation(_: Any, info: GraphQLResolveInfo, id: str) -> ReservationRead | None:
    require_roles(info, "admin")
    return await stock.get_reservation(db=InventoryContext.of(info).db, reservation_id=id)


@mutation.field("adjustInventoryStock")
async def resolve_adjust(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> StockRead:
    principal = require_roles(info, "seller", "admin")
    data = parse_input(StockAdjust, input, at=["input"], code="VALIDATION_FAILED")
    return await stock.adjust_stock(db=InventoryContext.of(info).db, data=data, principal=principal)


@stock_type.field("inStock")
def resolve_in_stock(obj: StockRead, _info: GraphQLResolveInfo) -> bool:
    return obj.available > 0


@stock_type.reference_resolver
async def resolve_stock_reference(
    _: Any, info: GraphQLResolveInfo, representation: dict[str, Any]
) -> StockRead | None:
    return await InventoryContext.of(info).stocks.load(representation["sku"])


bindables = [query, mutation, stock_type, reservation_type, status_enum, datetime_scalar]
