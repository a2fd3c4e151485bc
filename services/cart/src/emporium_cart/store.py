"""The cart service's database: its collections, guarded, and its aggregate behind the
kit's guarded write path (``emporium_kit.documents``).

``CartDb`` is the ``db`` every use case takes first (``get_item(*, db, item_id)``).
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
from ulid import ULID

ITEMS = "items"
# every collection whose documents carry outbox entries: what the relay watches
OUTBOX_COLLECTIONS = (ITEMS,)


def now() -> datetime:
    """UTC now at millisecond precision: what a BSON date stores."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def new_id() -> str:
    return str(ULID())


class CartDb:
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
        self.items = Documents(
            db[ITEMS],
            guard,
            leases=self.leases,
            noun="item",
            not_found=lambda: NotFound("ITEM_NOT_FOUND", "no such item", ["id"]),
            busy=lambda: Conflict(
                "ITEM_BUSY", "the item is being changed by another request; retry"
            ),
            notify=notify,
        )

    @classmethod
    def connect(
        cls,
        mongo: MongoStore,
        settings: ServiceSettings,
        *,
        notify: NotifyTarget | None = None,
    ) -> CartDb:
        """The app's store: every call behind the Mongo breaker, leases from the settings."""
        return cls(
            mongo.db,
            mongo.dependency.guard,
            leases=LeaseConfig.from_settings(settings),
            notify=notify,
        )
