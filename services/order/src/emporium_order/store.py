"""The order service's database: orders behind the kit's guarded write path
(``emporium_kit.documents``), and the consumer's processed ids."""

from __future__ import annotations

from collections.abc import Mapping
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

ORDERS = "orders"
PROCESSED_EVENTS = "processed_events"
OUTBOX_COLLECTIONS = (ORDERS,)


def now() -> datetime:
    """UTC now at millisecond precision: what a BSON date stores."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class OrderDb:
    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        guard: Guard | None = None,
        *,
        leases: LeaseConfig | None = None,
        notify: NotifyTarget | None = None,
        deadlines: Mapping[str, float] | None = None,
    ) -> None:
        self.raw = db
        # seconds an order may wait in a saga step (status -> timeout): the sweeper's deadlines
        self.deadlines = dict(deadlines or {})
        self.leases = Leases(Collection(db[LOCKS], guard), leases)
        self.orders = Documents(
            db[ORDERS],
            guard,
            leases=self.leases,
            noun="order",
            not_found=lambda: NotFound("ORDER_NOT_FOUND", "no such order", ["id"]),
            busy=lambda: Conflict("ORDER_BUSY", "the order is being changed; retry"),
            notify=notify,
        )

    @classmethod
    def connect(
        cls,
        mongo: MongoStore,
        settings: ServiceSettings,
        *,
        notify: NotifyTarget | None = None,
        deadlines: Mapping[str, float] | None = None,
    ) -> OrderDb:
        return cls(
            mongo.db,
            mongo.dependency.guard,
            leases=LeaseConfig.from_settings(settings),
            notify=notify,
            deadlines=deadlines,
        )
