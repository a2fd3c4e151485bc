"""The notification service's database: one email per event behind the kit's guarded write
path (``emporium_kit.documents``), the buyers' addresses, and the consumer's processed ids."""

from __future__ import annotations

from emporium_kit.documents import ServiceDb
from emporium_kit.errors import Conflict, NotFound

NOTIFICATIONS = "notifications"
CONTACTS = "contacts"
PROCESSED_EVENTS = "processed_events"
OUTBOX_COLLECTIONS = (NOTIFICATIONS,)


class NotificationDb(ServiceDb):
    def declare(self) -> None:
        self.notifications = self.aggregates(
            NOTIFICATIONS,
            noun="notification",
            not_found=lambda: NotFound("NOTIFICATION_NOT_FOUND", "no such notification", ["id"]),
            busy=lambda: Conflict("NOTIFICATION_BUSY", "the notification is being sent; retry"),
        )
        # user id -> the address they registered with (identity's UserRegistered)
        self.contacts = self.collection(CONTACTS)
