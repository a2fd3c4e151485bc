"""The notification service's database: one email per event behind the kit's guarded write
path (``emporium_kit.documents``), the buyers' addresses, and the consumer's processed ids."""

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

NOTIFICATIONS = "notifications"
CONTACTS = "contacts"
PROCESSED_EVENTS = "processed_events"
OUTBOX_COLLECTIONS = (NOTIFICATIONS,)


def now() -> datetime:
    """UTC now at millisecond precision: what a BSON date stores."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class NotificationDb:
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
        self.notifications = Documents(
            db[NOTIFICATIONS],
            guard,
            leases=self.leases,
            noun="notification",
            not_found=lambda: NotFound("NOTIFICATION_NOT_FOUND", "no such notification", ["id"]),
            busy=lambda: Conflict("NOTIFICATION_BUSY", "the notification is being sent; retry"),
            notify=notify,
        )
        # user id -> the address they registered with (identity's UserRegistered)
        self.contacts = Collection(db[CONTACTS], guard)

    @classmethod
    def connect(
        cls, mongo: MongoStore, settings: ServiceSettings, *, notify: NotifyTarget | None = None
    ) -> NotificationDb:
        return cls(
            mongo.db,
            mongo.dependency.guard,
            leases=LeaseConfig.from_settings(settings),
            notify=notify,
        )
