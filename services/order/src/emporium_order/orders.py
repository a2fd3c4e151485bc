"""Use cases of the order aggregate: placing, the state machine's moves, reads, the sweeper.

Every write is ``Documents.insert`` / ``update`` (the kit's guarded write path), each move
with its event and a ``status_history`` entry in the same single-document write.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import orjson
from emporium_kit.auth import Principal
from emporium_kit.documents import now
from emporium_kit.errors import Conflict, Forbidden, NotFound, Unavailable, ValidationFailed
from pymongo.errors import DuplicateKeyError

from emporium_order import events
from emporium_order.cart import Cart, CartService
from emporium_order.cart import Discount as CartDiscount
from emporium_order.models import TRANSITIONS, WAITING, OrderRead, OrderStatus, PlaceOrder
from emporium_order.store import OrderDb

Doc = dict[str, Any]
MAX_PAGE = 50
# a cart line's availability while the cart cannot read the product's state
UNCONFIRMED = "UNKNOWN"


def order_id_for(user_id: str, idempotency_key: str) -> str:
    """One order per buyer and key: the id is the key's, so a retry can only find it."""
    digest = hashlib.sha256(f"{user_id}\x00{idempotency_key}".encode()).hexdigest()
    return f"ord_{digest[:26]}"


def request_hash(data: PlaceOrder) -> str:
    return _digest(data.model_dump())


def cart_hash(cart: Cart) -> str:
    """What of the cart an order is made of: its priced lines, coupons and totals."""
    return _digest(
        {
            "lines": [
                line.model_dump(exclude={"available", "availability"}) for line in cart.lines
            ],
            "coupons": cart.appliedCoupons,
            "pricing": cart.pricing.model_dump(),
        }
    )


def _digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _deadline(db: OrderDb, status: OrderStatus) -> Any:
    seconds = db.deadlines.get(status.value)
    return now() + timedelta(seconds=seconds) if seconds is not None else None


def _discounts(discounts: list[CartDiscount]) -> list[Doc]:
    return [{"offer_id": d.offerId, "label": d.label, "amount": d.amount.amount} for d in discounts]


def check_cart(cart: Cart) -> None:
    """An order needs lines, each confirmed by the catalog just now and on sale with its
    offer's SKU and seller, in one currency."""
    if not cart.lines:
        raise ValidationFailed("CART_EMPTY", "the cart has nothing to order", ["cart", "lines"])
    for index, line in enumerate(cart.lines):
        at: list[str | int] = ["cart", "lines", index]
        if line.availability == UNCONFIRMED:
            # the cart priced the line at its price when added: never an order's price
            raise Unavailable(
                "LINE_UNCONFIRMED",
                f"the cart cannot confirm product {line.id}'s price now; retry",
                at,
            )
        if not line.available:
            raise ValidationFailed(
                "LINE_UNAVAILABLE",
                f"product {line.id} cannot be ordered now ({line.availability}); remove it",
                at,
            )
        if line.sku is None or line.sellerId is None:
            raise ValidationFailed(
                "LINE_NOT_SOLD", f"product {line.id} has no seller offer to order", at
            )
        if line.unitPrice.currency != cart.currency:
            raise ValidationFailed(
                "MIXED_CURRENCIES", "an order is paid in one currency", [*at, "unitPrice"]
            )


def _order_doc(order_id: str, user_id: str, data: PlaceOrder, cart: Cart) -> Doc:
    at = now()
    pricing = cart.pricing
    return {
        "_id": order_id,
        "user_id": user_id,
        "status": OrderStatus.PENDING.value,
        "items": [
            {
                "order_item_id": f"{order_id}-{index + 1}",
                "product_id": line.id,
                "name": line.name,
                "sku": line.sku,
                "seller_id": line.sellerId,
                "quantity": line.quantity,
                "price_at_purchase": line.unitPrice.model_dump(),
                "discounts": _discounts(line.discounts),
                "total": line.total.amount,
            }
            for index, line in enumerate(cart.lines)
        ],
        "subtotal": pricing.subtotal.amount,
        "discounts": _discounts(pricing.discounts),
        "discount_total": pricing.discountTotal.amount,
        "shipping": pricing.shipping.amount,
        "shipping_discount": pricing.shippingDiscount.amount,
        "total_amount": pricing.total.amount,
        "currency": cart.currency,
        "coupons": cart.appliedCoupons,
        "cart": {"id": cart.id, "version": cart.version},
        "shipping_address": data.shipping_address.model_dump(),
        "payment_method": data.payment_method,
        "email": data.email,
        "idempotency_key": data.idempotency_key,
        "request_hash": request_hash(data),
        "cart_hash": cart_hash(cart),
        "cancel_reason": None,
        "deadline": None,
        "status_history": [{"status": "PENDING", "at": at, "cause": "placed"}],
        "version": 1,
        "created_at": at,
        "updated_at": at,
    }


async def place_order(
    *, db: OrderDb, cart: CartService, authorization: str, user_id: str, data: PlaceOrder
) -> OrderRead:
    """A PENDING order of the buyer's cart at the cart service's pricing now, with
    ``OrderCreated`` in the same write.

    Steps: read the cart; check it can be ordered; redeem its applied coupons for the order
    (idempotent per order: a retry with the key takes the same redemptions); read the cart's
    version again, so a cart changed meanwhile is refused (``CART_CHANGED``) instead of
    ordered half-old; insert. The same key returns the first order while the cart still
    holds what it ordered (or nothing: a confirmed order empties it); the same key with
    another request or other cart content is ``IDEMPOTENCY_KEY_REUSED``."""
    order_id = order_id_for(user_id, data.idempotency_key)
    existing = await db.orders.get(order_id, {"outbox": 0})
    snapshot = await cart.read(authorization)
    if existing is None:
        check_cart(snapshot)
        for index, code in enumerate(snapshot.appliedCoupons):
            await cart.redeem(
                authorization, code=code, order_id=order_id, at=["cart", "appliedCoupons", index]
            )
        again = await cart.read(authorization)
        if again.version != snapshot.version:
            raise Conflict(
                "CART_CHANGED",
                "the cart changed while the order was placed; check it and place again",
                ["cart", "version"],
            )
        doc = {
            **_order_doc(order_id, user_id, data, snapshot),
            "deadline": _deadline(db, OrderStatus.PENDING),
        }
        try:
            await db.orders.insert(doc, [events.order_created(doc)])
            return OrderRead.from_doc(doc)
        except DuplicateKeyError:
            existing = await db.orders.get(order_id, {"outbox": 0})
    assert existing is not None
    same_cart = not snapshot.lines or existing["cart_hash"] == cart_hash(snapshot)
    if existing["request_hash"] != request_hash(data) or not same_cart:
        raise Conflict(
            "IDEMPOTENCY_KEY_REUSED",
            "this idempotency key was used for another order request",
            ["input", "idempotencyKey"],
        )
    return OrderRead.from_doc(existing)


def _transition(
    db: OrderDb,
    to: OrderStatus,
    cause: str,
    reason: str | None,
    *,
    strict: bool,
    only_from: OrderStatus | None = None,
) -> Any:
    def change(current: Doc) -> tuple[Doc, list[Any]] | None:
        status = OrderStatus(current["status"])
        if only_from is not None and status != only_from:
            return None
        if to not in TRANSITIONS[status]:
            if strict:
                raise Conflict(
                    "ILLEGAL_TRANSITION", f"an order that is {status} cannot become {to}", ["id"]
                )
            return None
        at = now()
        changes: Doc = {
            "status": to.value,
            "status_history": [
                *current["status_history"],
                {"status": to.value, "at": at, "cause": cause},
            ],
            # awaiting payment keeps the deadline set at placing: one budget for paying
            "deadline": current["deadline"]
            if to == OrderStatus.AWAITING_PAYMENT
            else _deadline(db, to),
            "updated_at": at,
        }
        if reason is not None:
            changes["cancel_reason"] = reason
        after = {**current, **changes, "version": current["version"] + 1}
        return changes, events.status_changed(after)

    return change


async def advance(
    *,
    db: OrderDb,
    order_id: str,
    to: OrderStatus,
    cause: str,
    reason: str | None = None,
    only_from: OrderStatus | None = None,
) -> OrderRead | None:
    """The saga's move (an event arrived): a move the state machine does not allow from where
    the order is — a redelivery, a late event — changes nothing, nor does any move when the
    order is no longer ``only_from``. ``None``: no such order."""
    change = _transition(db, to, cause, reason, strict=False, only_from=only_from)
    try:
        doc = await db.orders.update(order_id, change)
    except NotFound:
        return None
    return OrderRead.from_doc(doc)


async def act(
    *, db: OrderDb, order_id: str, to: OrderStatus, principal: Principal, reason: str | None = None
) -> OrderRead:
    """A person's move: ship and deliver (admin, or a seller of every item), cancel (the
    buyer before shipping, or an admin). Illegal moves are refused."""
    current = await db.orders.get(order_id, {"outbox": 0})
    if current is None or not _may_see(current, principal):
        raise NotFound("ORDER_NOT_FOUND", "no such order", ["id"])
    sellers = {item["seller_id"] for item in current["items"]}
    if to in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        allowed = principal.is_admin or (
            principal.seller_id is not None and sellers == {principal.seller_id}
        )
    else:
        allowed = principal.is_admin or current["user_id"] == principal.subject
    if not allowed:
        raise Forbidden("NOT_ALLOWED", f"you cannot make this order {to}", ["id"])
    who = f"{principal.subject} ({', '.join(sorted(principal.roles))})"
    doc = await db.orders.update(order_id, _transition(db, to, f"by {who}", reason, strict=True))
    return OrderRead.from_doc(doc)


def _may_see(doc: Doc, principal: Principal) -> bool:
    return (
        principal.is_admin
        or doc["user_id"] == principal.subject
        or (
            principal.seller_id is not None
            and any(item["seller_id"] == principal.seller_id for item in doc["items"])
        )
    )


async def get_order(*, db: OrderDb, order_id: str, principal: Principal) -> OrderRead | None:
    """The order for its buyer and admins; a seller sees only their own lines."""
    doc = await db.orders.get(order_id, {"outbox": 0})
    if doc is None or not _may_see(doc, principal):
        return None
    if not principal.is_admin and doc["user_id"] != principal.subject:
        doc = {**doc, "items": [i for i in doc["items"] if i["seller_id"] == principal.seller_id]}
    return OrderRead.from_doc(doc)


async def my_orders(*, db: OrderDb, user_id: str, first: int) -> list[OrderRead]:
    """The buyer's newest orders first."""
    docs = await db.orders.find(
        {"user_id": user_id}, {"outbox": 0}, sort=[("created_at", -1), ("_id", -1)], limit=first
    )
    return [OrderRead.from_doc(doc) for doc in docs]


async def sweep(*, db: OrderDb) -> int:
    """Cancel orders whose saga step passed its deadline (FerretDB has no TTL indexes); the
    cancellation voids the payment and releases the stock through its event."""
    at = now()
    late = await db.orders.find(
        {"status": {"$in": [s.value for s in WAITING]}, "deadline": {"$lt": at}},
        {"_id": 1, "status": 1},
    )
    for doc in late:
        reason = f"{doc['status'].lower()}_timeout"
        await advance(
            db=db,
            order_id=doc["_id"],
            to=OrderStatus.CANCELLED,
            cause=reason,
            reason=reason,
            only_from=OrderStatus(doc["status"]),  # not if the step completed meanwhile
        )
    return len(late)
