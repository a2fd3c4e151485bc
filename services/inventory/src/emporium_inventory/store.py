"""The inventory service's database: stock per SKU and reservations, both aggregates behind
the kit's guarded write path (``emporium_kit.documents``), and the consumer's processed ids.

``InventoryDb`` is the ``db`` every use case takes first (``reserve(*, db, ...)``).
"""

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

STOCK = "stock"
RESERVATIONS = "reservations"
PROCESSED_EVENTS = "processed_events"
# every collection whose documents carry outbox entries: what the relay watches
OUTBOX_COLLECTIONS = (STOCK, RESERVATIONS)


def now() -> datetime:
    """UTC now at millisecond precision: what a BSON date stores."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class InventoryDb:
    """``guard`` is the Mongo dependency's (none for command-line tools), ``leases`` the lease
    settings, ``notify`` what learns of every write that carries events (the outbox relay)."""

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
        self.stock = Documents(
            db[STOCK],
            guard,
            leases=self.leases,
            noun="SKU",
            not_found=lambda: NotFound("SKU_NOT_FOUND", "no stock is kept for this SKU", ["sku"]),
            busy=lambda: Conflict(
                "STOCK_BUSY", "the SKU's stock is being changed by other requests; retry"
            ),
            notify=notify,
        )
        self.reservations = Documents(
            db[RESERVATIONS],
            guard,
            leases=self.leases,
            noun="reservation",
            not_found=lambda: NotFound(
                "RESERVATION_NOT_FOUND", "no such reservation", ["reservationId"]
            ),
            busy=lambda: Conflict(
                "RESERVATION_BUSY", "the reservation is being changed by another request; retry"
            ),
            notify=notify,
        )

    @classmethod
    def connect(
        cls, mongo: MongoStore, settings: ServiceSettings, *, notify: NotifyTarget | None = None
    ) -> InventoryDb:
        """The app's store: every call behind the Mongo breaker, leases from the settings."""
        return cls(
            mongo.db,
            mongo.dependency.guard,
            leases=LeaseConfig.from_settings(settings),
            notify=notify,
        )
