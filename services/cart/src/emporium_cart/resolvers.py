"""GraphQL resolvers: validate input, check the caller, call the use case, shape the result.

Errors are GraphQL errors with ``extensions: {code, kind, field}`` (the kit's format); a
refused change writes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ariadne import MutationType, ObjectType, QueryType, ScalarType, SubscriptionType
from ariadne.contrib.federation import FederatedObjectType
from emporium_kit.auth import Principal, principal_from, require_principal
from emporium_kit.context import RequestContext
from emporium_kit.errors import Forbidden, ValidationFailed, parse_input
from emporium_kit.loaders import Loader, keyed_loader
from graphql import GraphQLResolveInfo

from emporium_cart import carts as cart_changes
from emporium_cart.carts import CartKey, Carts, Limits
from emporium_cart.live import Live
from emporium_cart.models import (
    CartRef,
    CouponInput,
    LineInput,
    OfferCreate,
    OfferUpdate,
    ProductRefInput,
    ProductState,
    QuantityInput,
    RedeemInput,
)
from emporium_cart.offers import MAX_DEALS, Offers, coupon_error, running_deals
from emporium_cart.products import Products
from emporium_cart.settings import CartSettings
from emporium_cart.views import Viewer, graphql_cart

RELEASE_SCOPE = "cart:redemptions"


@dataclass(frozen=True, slots=True)
class Cart:
    """The service's long-lived parts, built once by ``create_app``."""

    settings: CartSettings
    carts: Carts
    products: Products
    offers: Offers
    viewer: Viewer
    live: Live


@dataclass(frozen=True, slots=True)
class CartContext(RequestContext):
    """What a resolver reads (``CartContext.of(info)``): the service and this request's
    product loader, so the products one operation checks are read in one batch."""

    service: Cart
    products: Loader[str, ProductState]


def request_context(service: Cart) -> Callable[[Any], CartContext]:
    """The ``context`` factory for ``build_app``: fresh loaders per request."""

    def build(_request: Any) -> CartContext:
        return CartContext(service=service, products=keyed_loader(service.products.get))

    return build


query = QueryType()
mutation = MutationType()
subscription = SubscriptionType()
user_type = FederatedObjectType("User")
offer_type = ObjectType("Offer")
deal_type = ObjectType("Deal")
benefit_type = ObjectType("OfferBenefit")
tier_type = ObjectType("OfferTier")
datetime_scalar = ScalarType(
    "DateTime",
    serializer=lambda value: value if isinstance(value, str) else value.isoformat(),
    value_parser=datetime.fromisoformat,
)


# -- reads ------------------------------------------------------------------------------------


async def _view(ctx: CartContext, doc: dict[str, Any]) -> dict[str, Any]:
    return graphql_cart(await ctx.service.viewer.view(doc, user_id=doc.get("owner")))


@query.field("cart")
async def resolve_cart(
    _: Any, info: GraphQLResolveInfo, cart_token: str | None = None
) -> dict[str, Any]:
    ctx = CartContext.of(info)
    ref = parse_input(CartRef, {"cart_token": cart_token})
    key = await ctx.service.carts.key_for(principal_from(info), ref.cart_token, at=["cartToken"])
    return await _view(ctx, await ctx.service.carts.read(key))


@user_type.reference_resolver
async def resolve_user_reference(
    _: Any, _info: GraphQLResolveInfo, representation: dict[str, Any]
) -> dict[str, Any]:
    return {"id": representation["id"]}


@user_type.field("cart")
async def resolve_user_cart(user: dict[str, Any], info: GraphQLResolveInfo) -> dict[str, Any]:
    principal = require_principal(info)
    if principal.subject != user["id"]:
        raise Forbidden("NOT_YOUR_CART", "An account's cart is visible to the account only")
    ctx = CartContext.of(info)
    carts = ctx.service.carts
    return await _view(ctx, await carts.read(carts.user_key(principal.subject)))


# -- cart changes -------------------------------------------------------------------------------


async def _change(
    info: GraphQLResolveInfo,
    ref: CartRef,
    build: Callable[[CartKey], Any],
) -> dict[str, Any]:
    """Resolve the cart the input names, compute its change, apply it, read it back."""
    ctx = CartContext.of(info)
    carts = ctx.service.carts
    key = await carts.key_for(principal_from(info), ref.cart_token)
    change = build(key)
    if asyncio.iscoroutine(change):
        change = await change
    doc = await carts.change(key, change, expected_version=ref.expected_version)
    return await _view(ctx, doc)


def _limits(info: GraphQLResolveInfo) -> Limits:
    return Limits.of(CartContext.of(info).service.settings)


async def _orderable(info: GraphQLResolveInfo, product_id: str) -> ProductState:
    ctx = CartContext.of(info)
    state = await ctx.products.load(product_id)
    return cart_changes.check_orderable(
        state, product_id, ctx.service.settings.cart_currency, ["input", "productId"]
    )


@mutation.field("createGuestCart")
async def resolve_create_guest_cart(_: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    ctx = CartContext.of(info)
    token, doc = await ctx.service.carts.create_guest()
    return {"token": token, "cart": await _view(ctx, doc)}


@mutation.field("addToCart")
async def resolve_add(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    data = parse_input(LineInput, input, at=["input"])
    limits = _limits(info)
    if data.quantity > limits.max_quantity:
        raise cart_changes.too_many(data.quantity, limits)

    async def build(_key: CartKey) -> Any:
        return cart_changes.add_line(await _orderable(info, data.product_id), data.quantity, limits)

    return await _change(info, data, build)


@mutation.field("setCartLineQuantity")
async def resolve_set_quantity(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, Any]:
    data = parse_input(QuantityInput, input, at=["input"])
    limits = _limits(info)
    if data.quantity > limits.max_quantity:
        raise cart_changes.too_many(data.quantity, limits)

    async def build(_key: CartKey) -> Any:
        state = await CartContext.of(info).products.load(data.product_id) if data.quantity else None
        return cart_changes.set_quantity(data.product_id, data.quantity, limits, state)

    return await _change(info, data, build)


@mutation.field("removeFromCart")
async def resolve_remove(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    data = parse_input(ProductRefInput, input, at=["input"])
    return await _change(info, data, lambda _key: cart_changes.remove_line(data.product_id))


@mutation.field("clearCart")
async def resolve_clear(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any] | None = None
) -> dict[str, Any]:
    data = parse_input(CartRef, input, at=["input"])
    return await _change(info, data, lambda _key: cart_changes.clear)


@mutation.field("saveForLater")
async def resolve_save(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    data = parse_input(ProductRefInput, input, at=["input"])
    limits = _limits(info)
    return await _change(
        info, data, lambda _key: cart_changes.save_for_later(data.product_id, limits)
    )


@mutation.field("moveToCart")
async def resolve_move(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    data = parse_input(ProductRefInput, input, at=["input"])
    ctx = CartContext.of(info)
    limits = _limits(info)

    async def build(_key: CartKey) -> Any:
        state = await _orderable(info, data.product_id)
        return cart_changes.move_to_cart(
            data.product_id, limits, state, ctx.service.settings.cart_currency
        )

    return await _change(info, data, build)


@mutation.field("applyCoupon")
async def resolve_apply_coupon(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, Any]:
    data = parse_input(CouponInput, input, at=["input"])
    ctx = CartContext.of(info)
    limits = _limits(info)

    async def build(key: CartKey) -> Any:
        await check_coupon(ctx, key, data.code)
        return cart_changes.add_coupon(data.code, limits)

    return await _change(info, data, build)


async def check_coupon(ctx: CartContext, key: CartKey, code: str) -> None:
    """Refuse a code that is unknown, not valid now, used up, or whose minimum order the
    cart does not reach, naming ``input.code``."""
    service = ctx.service
    offer = (await service.offers.by_codes([code]))[code]
    field: list[str | int] = ["input", "code"]
    if offer is None:
        raise coupon_error("COUPON_UNKNOWN", "No such coupon", field)
    doc = await service.carts.read(key)
    view = await service.viewer.view(
        {**doc, "coupons": [*doc.get("coupons", []), code]}, user_id=key.owner
    )
    problem = next((n for n in view.pricing.not_applied if n.rule_id == offer["_id"]), None)
    if problem is not None and problem.code != "NOT_COMBINABLE":
        code_of = "COUPON_MIN_ORDER" if problem.code == "BELOW_MINIMUM" else problem.code
        raise coupon_error(code_of, problem.reason, field)


@mutation.field("removeCoupon")
async def resolve_remove_coupon(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, Any]:
    data = parse_input(CouponInput, input, at=["input"])
    return await _change(info, data, lambda _key: cart_changes.remove_coupon(data.code))


@mutation.field("mergeCart")
async def resolve_merge(_: Any, info: GraphQLResolveInfo, guest_token: str) -> dict[str, Any]:
    principal = require_principal(info)
    ref = parse_input(CartRef, {"cart_token": guest_token}, at=[])
    assert ref.cart_token is not None
    ctx = CartContext.of(info)
    doc, report = await ctx.service.carts.merge(user_id=principal.subject, token=ref.cart_token)
    return {
        "cart": await _view(ctx, doc),
        "lines": report.lines,
        "coupons": report.coupons,
        "already_merged": report.already_merged,
    }


# -- offers -----------------------------------------------------------------------------------


@query.field("deals")
async def resolve_deals(_: Any, info: GraphQLResolveInfo, first: int = 12) -> list[dict[str, Any]]:
    if not 1 <= first <= MAX_DEALS:
        raise ValidationFailed(
            "INVALID_PAGE_SIZE", f"first must be between 1 and {MAX_DEALS}", ["first"]
        )
    offers = await CartContext.of(info).service.offers.active()
    return running_deals(offers, datetime.now(UTC))[:first]


@query.field("offers")
async def resolve_offers(_: Any, info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    principal = _offer_manager(info)
    return await CartContext.of(info).service.offers.listed(principal)


@query.field("offer")
async def resolve_offer(_: Any, info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:
    principal = _offer_manager(info)
    offer = await CartContext.of(info).service.offers.get(id)
    if offer is None:
        return None
    if not principal.is_admin and offer.get("owner_seller_id") != principal.seller_id:
        return None
    return offer


def _offer_manager(info: GraphQLResolveInfo) -> Principal:
    principal = require_principal(info)
    if not principal.has_role("admin", "seller"):
        raise Forbidden("MISSING_ROLE", "Requires one of the roles: admin, seller")
    return principal


@mutation.field("createOffer")
async def resolve_create_offer(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, Any]:
    principal = _offer_manager(info)
    data = parse_input(OfferCreate, input, at=["input"])
    return await CartContext.of(info).service.offers.create(principal=principal, data=data)


@mutation.field("updateOffer")
async def resolve_update_offer(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, Any]:
    principal = _offer_manager(info)
    data = parse_input(OfferUpdate, input, at=["input"])
    return await CartContext.of(info).service.offers.update(principal=principal, data=data)


@mutation.field("redeemCoupon")
async def resolve_redeem(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> Any:
    principal = require_principal(info)
    data = parse_input(RedeemInput, input, at=["input"])
    return await CartContext.of(info).service.offers.redeem(
        user_id=principal.subject, code=data.code, order_id=data.order_id
    )


@mutation.field("releaseCoupon")
async def resolve_release(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> Any:
    principal = require_principal(info)
    if not principal.is_admin and RELEASE_SCOPE not in principal.scopes:
        raise Forbidden(
            "MISSING_SCOPE", f"Releasing a redemption needs an admin or the {RELEASE_SCOPE} scope"
        )
    data = parse_input(RedeemInput, input, at=["input"])
    return await CartContext.of(info).service.offers.release(code=data.code, order_id=data.order_id)


# -- live updates -------------------------------------------------------------------------------


# ariadne's Subscriber type leaves out a coroutine returning the stream, which graphql-core awaits
@subscription.source("cartUpdated")  # type: ignore[arg-type]
async def cart_updated_source(
    _: Any, info: GraphQLResolveInfo, cart_token: str | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Checks the caller may see the cart before the stream starts (a refusal is the
    subscription's error); then the cart now, and again after each change."""
    ctx = CartContext.of(info)
    ref = parse_input(CartRef, {"cart_token": cart_token})
    key = await ctx.service.carts.key_for(principal_from(info), ref.cart_token, at=["cartToken"])
    return _updates(ctx, key)


async def _updates(ctx: CartContext, key: CartKey) -> AsyncIterator[dict[str, Any]]:
    carts, live = ctx.service.carts, ctx.service.live
    async with live.listen(key.id) as versions:
        doc = await carts.read(key)
        yield doc
        while await live.next_version(versions) is not None:
            while not versions.empty():  # a burst of changes is one read
                versions.get_nowait()
            latest = await carts.read(key)
            if latest["version"] != doc["version"]:
                doc = latest
                yield doc


@subscription.field("cartUpdated")
async def resolve_cart_updated(
    doc: dict[str, Any], info: GraphQLResolveInfo, **_: Any
) -> dict[str, Any]:
    return await _view(CartContext.of(info), doc)


# -- read models --------------------------------------------------------------------------------


@offer_type.field("id")
@deal_type.field("id")
def resolve_offer_id(offer: dict[str, Any], _info: GraphQLResolveInfo) -> str:
    offer_id: str = offer["_id"]
    return offer_id


@offer_type.field("redeemed")
async def resolve_offer_redeemed(offer: dict[str, Any], info: GraphQLResolveInfo) -> int:
    if offer.get("coupon_code") is None:
        return 0
    total, _ = await CartContext.of(info).service.offers.redemption_counts([offer["_id"]], None)
    return total.get(offer["_id"], 0)


@benefit_type.field("percent")
@tier_type.field("percent")
def resolve_percent(item: dict[str, Any], _info: GraphQLResolveInfo) -> float | None:
    value = item.get("percent")
    return None if value is None else float(value)


bindables = [
    query,
    mutation,
    subscription,
    user_type,
    offer_type,
    deal_type,
    benefit_type,
    tier_type,
    datetime_scalar,
]
