"""The order's moves on the test platform's FerretDB: events move it only where the state
machine allows, people are refused illegal moves, the sweeper cancels late steps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from emporium_kit.auth import Principal
from emporium_kit.documents import now
from emporium_kit.errors import Conflict, Forbidden, NotFound
from emporium_order import events, orders
from emporium_order.models import OrderStatus
from emporium_order.store import OrderDb
from ulid import ULID

pytestmark = pytest.mark.integration

BUYER = Principal(subject="buyer-1", roles=frozenset({"customer"}))
S = OrderStatus


async def new_order(db: OrderDb, *, deadline_in_s: float = 600.0) -> str:
    order_id = f"ord_{ULID()}"
    at = now()
    doc = {
        "_id": order_id,
        "user_id": BUYER.subject,
        "status": "PENDING",
        "items": [
            {
                "order_item_id": f"{order_id}-1",
                "product_id": "p1",
                "sku": "SKU-1",
                "seller_id": "seller-1",
                "quantity": 1,
                "price_at_purchase": {"amount": 999, "currency": "EUR"},
            }
        ],
        "total_amount": 999,
        "currency": "EUR",
        "shipping_address": {
            "name": "A",
            "line_1": "1 St",
            "line_2": "",
            "city": "B",
            "postal_code": "1",
            "country": "DE",
        },
        "payment_method": "pm_card_visa",
        "idempotency_key": "key-00000001",
        "request_hash": "x",
        "cancel_reason": None,
        "deadline": at + timedelta(seconds=deadline_in_s),
        "status_history": [{"status": "PENDING", "at": at, "cause": "placed"}],
        "version": 1,
        "created_at": at,
        "updated_at": at,
    }
    await db.orders.insert(doc, [events.order_created(doc)])
    return order_id


async def test_events_move_the_order_only_forward(db: OrderDb) -> None:
    order = await new_order(db)
    for to in (S.AWAITING_PAYMENT, S.AUTHORISED, S.RESERVED):
        moved = await orders.advance(db=db, order_id=order, to=to, cause="test")
        assert moved is not None
        assert moved.status == to
    # a redelivered or late event changes nothing
    late = await orders.advance(db=db, order_id=order, to=S.AUTHORISED, cause="late")
    assert late is not None
    assert (late.status, late.version) == (S.RESERVED, 4)
    assert await orders.advance(db=db, order_id="ord_none", to=S.AUTHORISED, cause="x") is None
    confirmed = await orders.advance(db=db, order_id=order, to=S.CONFIRMED, cause="captured")
    assert confirmed is not None
    assert [c.status for c in confirmed.status_history] == [
        S.PENDING,
        S.AWAITING_PAYMENT,
        S.AUTHORISED,
        S.RESERVED,
        S.CONFIRMED,
    ]


async def test_people_are_refused_illegal_or_foreign_moves(db: OrderDb) -> None:
    order = await new_order(db)
    with pytest.raises(Forbidden):
        await orders.act(db=db, order_id=order, to=S.SHIPPED, principal=BUYER)
    other_seller = Principal(subject="s2", roles=frozenset({"seller"}), seller_id="seller-2")
    with pytest.raises(NotFound):
        await orders.act(db=db, order_id=order, to=S.SHIPPED, principal=other_seller)
    seller = Principal(subject="s1", roles=frozenset({"seller"}), seller_id="seller-1")
    with pytest.raises(Conflict) as illegal:
        await orders.act(db=db, order_id=order, to=S.SHIPPED, principal=seller)
    assert illegal.value.code == "ILLEGAL_TRANSITION"
    seen = await orders.get_order(db=db, order_id=order, principal=seller)
    assert seen is not None
    # a line stored without a name (this one's document has none) is named by its SKU
    assert [(item.name, item.sku) for item in seen.items] == [("SKU-1", "SKU-1")]


async def test_the_sweeper_cancels_a_late_step_only(db: OrderDb) -> None:
    late = await new_order(db, deadline_in_s=-1)
    on_time = await new_order(db)
    await orders.sweep(db=db)
    cancelled = await db.orders.get(late)
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("CANCELLED", "pending_timeout")
    assert (await db.orders.get(on_time))["status"] == "PENDING"
