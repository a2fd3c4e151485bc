"""The payment service's database: one payment per order, behind the kit's guarded write
path (``emporium_kit.documents``), and the consumer's processed ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from emporium_kit.clients import MongoStore
from emporium_kit.documents import (
    LOCKS,
    Collection,
    Documents,
    Guard,
    LeaseConfig,
    Leases,
    NotifyTarget,
)
from emporium_kit.errors import Conflict, NotFound
from emporium_kit.settings import ServiceSettings
from pymongo.asynchronous.database import AsyncDatabase

PAYMENTS = "payments"
PROCESSED_EVENTS = "processed_events"
OUTBOX_COLLECTIONS = (PAYMENTS,)


def now() -> datetime:
    """UTC now at millisecond precision: what a BSON date stores."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class PaymentDb:
    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        guard: Guard | None = None,
        *,
        leases: LeaseConfig | None = None,
        notify: NotifyTarget | None = None,
    ) -> None:
        self.raw = db
        self.leases = Leases(Collection(db[LOCKS], guard), leases)
        self.payments = Documents(
            db[PAYMENTS],
            guard,
            leases=self.leases,
            noun="payment",
            not_found=lambda: NotFound(
                "PAYMENT_NOT_FOUND", "no payment for this order", ["orderId"]
            ),
            busy=lambda: Conflict("PAYMENT_BUSY", "the payment is being changed; retry"),
            notify=notify,
        )

    @classmethod
    def connect(
        cls, mongo: MongoStore, settings: ServiceSettings, *, notify: NotifyTarget | None = None
    ) -> PaymentDb:
        return cls(
            mongo.db,
            mongo.dependency.guard,
            leases=LeaseConfig.from_settings(settings),
            notify=notify,
        )
