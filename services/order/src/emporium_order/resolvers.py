"""GraphQL resolvers: validate input, check the caller, call the use case, shape the result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ariadne import EnumType, MutationType, QueryType, ScalarType
from ariadne.contrib.federation import FederatedObjectType
from emporium_kit.auth import require_principal
from emporium_kit.context import RequestContext, request_of
from emporium_kit.errors import ValidationFailed, parse_input
from graphql import GraphQLResolveInfo

from emporium_order import orders
from emporium_order.cart import CartService
from emporium_order.models import OrderRead, OrderStatus, PlaceOrder
from emporium_order.store import OrderDb


@dataclass(frozen=True, slots=True)
class Order:
    db: OrderDb
    cart: CartService


@dataclass(frozen=True, slots=True)
class OrderContext(RequestContext):
    db: OrderDb
    cart: CartService


def request_context(service: Order) -> Callable[[Any], OrderContext]:
    def build(_request: Any) -> OrderContext:
        return OrderContext(db=service.db, cart=service.cart)

    return build


query = QueryType()
mutation = MutationType()
order_type = FederatedObjectType("Order")
status_enum = EnumType("OrderStatus", OrderStatus)
datetime_scalar = ScalarType("DateTime", serializer=lambda value: value.isoformat())


@query.field("order")
async def resolve_order(_: Any, info: GraphQLResolveInfo, id: str) -> OrderRead | None:
    principal = require_principal(info)
    return await orders.get_order(db=OrderContext.of(info).db, order_id=id, principal=principal)


@query.field("myOrders")
async def resolve_my_orders(_: Any, info: GraphQLResolveInfo, first: int = 20) -> list[OrderRead]:
    principal = require_principal(info)
    if not 1 <= first <= orders.MAX_PAGE:
        raise ValidationFailed("INVALID_PAGE_SIZE", f"first is 1 to {orders.MAX_PAGE}", ["first"])
    return await orders.my_orders(
        db=OrderContext.of(info).db, user_id=principal.subject, first=first
    )


@mutation.field("placeOrder")
async def resolve_place_order(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> OrderRead:
    principal = require_principal(info)
    # omitted optional fields take the model's defaults
    input = {k: v for k, v in input.items() if v is not None}
    if isinstance(address := input.get("shipping_address"), dict):
        input["shipping_address"] = {k: v for k, v in address.items() if v is not None}
    data = parse_input(PlaceOrder, input, at=["input"], code="VALIDATION_FAILED")
    context = OrderContext.of(info)
    # the buyer's own cart, read with the buyer's own token (verified: a principal exists)
    authorization = request_of(info).headers["authorization"]
    return await orders.place_order(
        db=context.db,
        cart=context.cart,
        authorization=authorization,
        user_id=principal.subject,
        data=data,
    )


def _act(to: OrderStatus) -> Any:
    async def resolve(_: Any, info: GraphQLResolveInfo, id: str) -> OrderRead:
        principal = require_principal(info)
        reason = "cancelled_by_request" if to == OrderStatus.CANCELLED else None
        return await orders.act(
            db=OrderContext.of(info).db, order_id=id, to=to, principal=principal, reason=reason
        )

    return resolve


mutation.set_field("cancelOrder", _act(OrderStatus.CANCELLED))
mutation.set_field("shipOrder", _act(OrderStatus.SHIPPED))
mutation.set_field("deliverOrder", _act(OrderStatus.DELIVERED))


@order_type.reference_resolver
async def resolve_order_reference(
    _: Any, info: GraphQLResolveInfo, representation: dict[str, Any]
) -> OrderRead | None:
    return await orders.get_order(
        db=OrderContext.of(info).db,
        order_id=str(representation["id"]),
        principal=require_principal(info),
    )


bindables = [query, mutation, order_type, status_enum, datetime_scalar]
