"""GraphQL resolvers: check the caller, call the use case, shape the result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ariadne import EnumType, QueryType, ScalarType
from ariadne.contrib.federation import FederatedObjectType
from emporium_kit.auth import require_principal
from emporium_kit.context import RequestContext
from graphql import GraphQLResolveInfo

from emporium_payment import payments
from emporium_payment.models import PaymentRead, PaymentStatus


@dataclass(frozen=True, slots=True)
class PaymentContext(RequestContext):
    service: payments.Payments


def request_context(service: payments.Payments) -> Callable[[Any], PaymentContext]:
    def build(_request: Any) -> PaymentContext:
        return PaymentContext(service=service)

    return build


query = QueryType()
payment_type = FederatedObjectType("Payment")
status_enum = EnumType("PaymentStatus", PaymentStatus)
datetime_scalar = ScalarType("DateTime", serializer=lambda value: value.isoformat())


async def _visible(info: GraphQLResolveInfo, order_id: str) -> PaymentRead | None:
    principal = require_principal(info)
    payment = await payments.get_payment(PaymentContext.of(info).service, order_id=order_id)
    if payment is None or not (principal.is_admin or payment.user_id == principal.subject):
        return None  # another buyer's payment is not revealed, not even its existence
    return payment


@query.field("orderPayment")
async def resolve_order_payment(
    _: Any, info: GraphQLResolveInfo, order_id: str
) -> PaymentRead | None:
    return await _visible(info, order_id)


@payment_type.field("amount")
def resolve_amount(obj: PaymentRead, _info: GraphQLResolveInfo) -> int:
    return obj.amount.amount


@payment_type.field("currency")
def resolve_currency(obj: PaymentRead, _info: GraphQLResolveInfo) -> str:
    return obj.amount.currency


@payment_type.reference_resolver
async def resolve_payment_reference(
    _: Any, info: GraphQLResolveInfo, representation: dict[str, Any]
) -> PaymentRead | None:
    return await _visible(info, representation["orderId"])


bindables = [query, payment_type, status_enum, datetime_scalar]
