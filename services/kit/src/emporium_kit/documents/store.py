"""The base of every service's database object: the raw database, its leases, and the
guarded collections the service declares on it.

    class OrderDb(ServiceDb):
        def declare(self) -> None:
            self.orders = self.aggregates("orders", noun="order", not_found=..., busy=...)

    db = OrderDb.connect(mongo, settings, notify=relay)   # the app's, behind the breaker
    db = OrderDb(mongo.db)                                 # a command-line tool's
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Self

from pymongo.asynchronous.database import AsyncDatabase

from emporium_kit.clients import MongoStore
from emporium_kit.documents.collection import Collection, Guard, unguarded
from emporium_kit.documents.lease import LOCKS, LeaseConfig, Leases, Refusal
from emporium_kit.documents.versioned import Documents, NotifyTarget
from emporium_kit.settings import ServiceSettings


def now() -> datetime:
    """UTC now at millisecond precision: what a BSON date stores, so a document built in
    memory equals the same document read back."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class ServiceDb:
    """``ServiceDb(db, guard, *, leases, notify)``: ``guard`` is the Mongo dependency's (none
    for command-line tools), ``leases`` the lease settings, ``notify`` what learns of every
    write that carries events (the outbox relay). A subclass declares its collections in
    :meth:`declare`, which the constructor calls."""

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        guard: Guard | None = None,
        *,
        leases: LeaseConfig | None = None,
        notify: NotifyTarget | None = None,
    ) -> None:
        self.raw = db
        self.guard: Guard = guard or unguarded
        self._notify = notify
        self.leases = Leases(Collection(db[LOCKS], self.guard), leases)
        self.declare()

    def declare(self) -> None:
        """Where a service's subclass declares its collections (:meth:`aggregates`,
        :meth:`collection`) as attributes."""

    def aggregates(
        self,
        name: str,
        *,
        noun: str,
        not_found: Refusal,
        busy: Refusal,
        relay: bool = True,
    ) -> Documents:
        """The guarded write path over collection ``name``; ``relay=False`` for documents
        that never carry events."""
        return Documents(
            self.raw[name],
            self.guard,
            leases=self.leases,
            noun=noun,
            not_found=not_found,
            busy=busy,
            notify=self._notify if relay else None,
        )

    def collection(self, name: str) -> Collection:
        """Collection ``name`` with every call behind the guard: for documents with one
        writer by construction, and reads."""
        return Collection(self.raw[name], self.guard)

    @classmethod
    def connect(
        cls, mongo: MongoStore, settings: ServiceSettings, *, notify: NotifyTarget | None = None
    ) -> Self:
        """The app's store: every call behind the Mongo breaker, leases from the settings."""
        return cls(
            mongo.db,
            mongo.dependency.guard,
            leases=LeaseConfig.from_settings(settings),
            notify=notify,
        )
