"""Use cases of the payment aggregate, one document per order.

Each step reads the payment, calls the provider with the order's idempotency key, and writes
the new status with its event in one guarded write (``Documents.update``). Status moves follow
``models.TRANSITIONS``; a step or webhook that would move the payment anywhere else changes
nothing, which makes redelivered events, duplicate and out-of-order webhooks harmless.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe
from emporium_kit.documents import now
from emporium_kit.errors import Conflict, NotFound
from pymongo.errors import DuplicateKeyError

from emporium_payment import events, webhooks
from emporium_payment.models import TRANSITIONS, PaymentRead, PaymentStatus
from emporium_payment.provider import Intent, PaymentProvider
from emporium_payment.store import PaymentDb

Doc = dict[str, Any]
HISTORY_KEPT = 50


@dataclass(frozen=True)
class Payments:
    """What the use cases need: the store, the provider, and (locally) the webhook relay."""

    db: PaymentDb
    provider: PaymentProvider
    relay: webhooks.WebhookRelay | None = None


def _move(to: PaymentStatus, cause: str, **fields: Any) -> Any:
    def change(current: Doc) -> tuple[Doc, list[Any]] | None:
        if to not in TRANSITIONS[PaymentStatus(current["status"])]:
            return None
        at = now()
        changes = {
            "status": to.value,
            "history": [*current["history"], {"status": to.value, "at": at, "cause": cause}][
                -HISTORY_KEPT:
            ],
            "updated_at": at,
            **fields,
        }
        after = {**current, **changes, "version": current["version"] + 1}
        return changes, [events.payment_changed(after)]

    return change


def _new(order_id: str, user_id: str, amount: int, currency: str, status: PaymentStatus) -> Doc:
    at = now()
    return {
        "_id": order_id,
        "user_id": user_id,
        "status": status.value,
        "amount": {"amount": amount, "currency": currency.upper()},
        "provider": "stripe",
        "intent_id": None,
        "failure": None,
        "history": [{"status": status.value, "at": at, "cause": "order created"}],
        "version": 1,
        "created_at": at,
        "updated_at": at,
    }


async def initiate(
    service: Payments,
    *,
    order_id: str,
    user_id: str,
    amount: int,
    currency: str,
    payment_method: str,
) -> PaymentRead:
    """Authorise the order's total (manual capture). The payment becomes INITIATED; the
    provider's webhook then says whether the authorisation succeeded."""
    db = service.db
    with contextlib.suppress(DuplicateKeyError):  # a redelivery: the payment exists
        await db.payments.insert(_new(order_id, user_id, amount, currency, PaymentStatus.PENDING))
    current = await db.payments.get(order_id, {"outbox": 0})
    assert current is not None
    if current["status"] != PaymentStatus.PENDING:
        return PaymentRead.from_doc(current)
    try:
        intent = await service.provider.authorise(
            order_id=order_id, amount=amount, currency=currency, payment_method=payment_method
        )
    except stripe.CardError as exc:
        failed = await db.payments.update(
            order_id, _move(PaymentStatus.FAILED, "declined", failure=exc.code or "card_error")
        )
        return PaymentRead.from_doc(failed)
    doc = await db.payments.update(
        order_id, _move(PaymentStatus.INITIATED, "intent created", intent_id=intent.id)
    )
    if service.relay is not None and doc["status"] == PaymentStatus.INITIATED:
        service.relay.send(_authorisation_event(intent, order_id, payment_method))
    return PaymentRead.from_doc(doc)


def _authorisation_event(intent: Intent, order_id: str, payment_method: str) -> Doc:
    """What Stripe sends after confirming a manual-capture intent with this test method."""
    obj = {**intent.raw, "metadata": {"order_id": order_id}, "payment_method": payment_method}
    if payment_method in webhooks.DECLINED_TEST_METHODS:
        obj |= {
            "status": "requires_payment_method",
            "last_payment_error": {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
            },
        }
        return webhooks.event_for("payment_intent.payment_failed", obj)
    obj |= {"status": "requires_capture", "amount_capturable": intent.amount}
    return webhooks.event_for("payment_intent.amount_capturable_updated", obj)


# provider event type -> the status it reports
WEBHOOK_STATUS = {
    "payment_intent.amount_capturable_updated": PaymentStatus.AUTHORISED,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "payment_intent.succeeded": PaymentStatus.CAPTURED,
    "payment_intent.canceled": PaymentStatus.VOIDED,
    "charge.refunded": PaymentStatus.REFUNDED,
}


async def apply_webhook(service: Payments, event: Doc) -> PaymentRead | None:
    """Apply a verified provider event; ``None`` when it concerns no payment of ours or a
    type we do not act on."""
    status = WEBHOOK_STATUS.get(event.get("type", ""))
    obj = event.get("data", {}).get("object", {})
    order_id = (obj.get("metadata") or {}).get("order_id")
    if status is None or not order_id:
        return None
    fields: Doc = {}
    if obj.get("object") == "payment_intent":
        fields["intent_id"] = obj["id"]
    if status == PaymentStatus.FAILED:
        error = obj.get("last_payment_error") or {}
        fields["failure"] = error.get("decline_code") or error.get("code") or "payment_failed"
    try:
        doc = await service.db.payments.update(
            order_id, _move(status, f"webhook {event['type']} {event.get('id')}", **fields)
        )
    except NotFound:
        return None
    return PaymentRead.from_doc(doc)


async def _get(service: Payments, order_id: str) -> Doc:
    current = await service.db.payments.get(order_id, {"outbox": 0})
    if current is None:
        raise NotFound("PAYMENT_NOT_FOUND", "no payment for this order", ["orderId"])
    return current


async def capture(service: Payments, *, order_id: str) -> PaymentRead:
    """Take the authorised amount (the stock is held)."""
    current = await _get(service, order_id)
    status = PaymentStatus(current["status"])
    if status in (PaymentStatus.CAPTURED, PaymentStatus.REFUNDED):
        return PaymentRead.from_doc(current)
    if status != PaymentStatus.AUTHORISED:
        raise Conflict(
            "PAYMENT_NOT_AUTHORISED", f"the payment is {status}, it cannot be captured", ["orderId"]
        )
    intent = await service.provider.capture(order_id=order_id, intent_id=current["intent_id"])
    doc = await service.db.payments.update(order_id, _move(PaymentStatus.CAPTURED, "captured"))
    if service.relay is not None:
        obj = {**intent.raw, "metadata": {"order_id": order_id}, "status": "succeeded"}
        service.relay.send(webhooks.event_for("payment_intent.succeeded", obj))
    return PaymentRead.from_doc(doc)


async def void_or_refund(service: Payments, *, order_id: str) -> PaymentRead:
    """The order is cancelled: cancel an authorisation (nothing was taken) or refund a capture.
    A cancellation that arrives first leaves a voided payment, so a late authorisation is
    never asked for."""
    db = service.db
    current = await db.payments.get(order_id, {"outbox": 0})
    if current is None:
        try:
            await db.payments.insert(_new(order_id, "", 0, "XXX", PaymentStatus.VOIDED))
        except DuplicateKeyError:
            return await void_or_refund(service, order_id=order_id)
        return PaymentRead.from_doc(await _get(service, order_id))
    status = PaymentStatus(current["status"])
    if status == PaymentStatus.PENDING:
        doc = await db.payments.update(order_id, _move(PaymentStatus.VOIDED, "order cancelled"))
    elif status in (PaymentStatus.INITIATED, PaymentStatus.AUTHORISED):
        intent = await service.provider.cancel(order_id=order_id, intent_id=current["intent_id"])
        doc = await db.payments.update(order_id, _move(PaymentStatus.VOIDED, "order cancelled"))
        if service.relay is not None:
            obj = {**intent.raw, "metadata": {"order_id": order_id}, "status": "canceled"}
            service.relay.send(webhooks.event_for("payment_intent.canceled", obj))
    elif status == PaymentStatus.CAPTURED:
        refund = await service.provider.refund(
            order_id=order_id, intent_id=current["intent_id"], amount=current["amount"]["amount"]
        )
        doc = await db.payments.update(
            order_id, _move(PaymentStatus.REFUNDED, f"order cancelled, refund {refund['id']}")
        )
        if service.relay is not None:
            charge = {
                "id": refund.get("charge") or f"ch_{order_id}",
                "object": "charge",
                "payment_intent": current["intent_id"],
                "amount_refunded": current["amount"]["amount"],
                "refunded": True,
                "metadata": {"order_id": order_id},
            }
            service.relay.send(webhooks.event_for("charge.refunded", charge))
    else:
        doc = current
    return PaymentRead.from_doc(doc)


async def get_payment(service: Payments, *, order_id: str) -> PaymentRead | None:
    doc = await service.db.payments.get(order_id, {"outbox": 0})
    return PaymentRead.from_doc(doc) if doc else None


# the provider's intent status -> the payment status it means; absent: still in flight
PROVIDER_STATUS = {
    "requires_capture": PaymentStatus.AUTHORISED,
    "succeeded": PaymentStatus.CAPTURED,
    "canceled": PaymentStatus.VOIDED,
}


@dataclass(frozen=True)
class Drift:
    order_id: str
    ours: str
    theirs: str
    action: str  # "repaired", "would repair", "flagged"


async def reconcile(
    service: Payments, *, since: datetime, until: datetime, repair: bool
) -> tuple[int, list[Drift]]:
    """Compare the payments created in [since, until) with the provider's intents: a status
    the provider is ahead on (a missed webhook) is applied as a legal move when ``repair``;
    anything else that differs is flagged for a person. Returns (payments checked, drift)."""
    docs = await service.db.payments.find(
        {"created_at": {"$gte": since, "$lt": until}}, {"outbox": 0}, sort=[("created_at", 1)]
    )
    drift: list[Drift] = []
    for doc in docs:
        ours = PaymentStatus(doc["status"])
        if not doc.get("intent_id"):
            if ours == PaymentStatus.PENDING:
                drift.append(Drift(doc["_id"], ours, "no intent recorded", "flagged"))
            continue
        intent = await service.provider.retrieve(intent_id=doc["intent_id"])
        theirs = PROVIDER_STATUS.get(intent.status)
        if intent.status == "requires_payment_method" and intent.raw.get("last_payment_error"):
            theirs = PaymentStatus.FAILED
        if theirs is None or theirs == ours:
            continue
        if theirs not in TRANSITIONS[ours]:
            drift.append(Drift(doc["_id"], ours, intent.status, "flagged"))
            continue
        if repair:
            await service.db.payments.update(
                doc["_id"], _move(theirs, f"reconciliation: the provider says {intent.status}")
            )
        drift.append(
            Drift(doc["_id"], ours, intent.status, "repaired" if repair else "would repair")
        )
    return len(docs), drift
