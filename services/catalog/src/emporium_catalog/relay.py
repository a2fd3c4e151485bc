"""The outbox relay as the catalog runs it (in the app and in ``emporium-catalog seed``)."""

from __future__ import annotations

from typing import Any

from emporium_catalog.store import CatalogDb
from emporium_kit.documents import document_lock
from emporium_kit.events.outbox import OutboxRelay


def catalog_relay(db: CatalogDb, *args: Any, **kwargs: Any) -> OutboxRelay:
    """The kit's relay whose removals hold the leases of the catalog's writers (seed
    batches are written once and need none)."""
    return OutboxRelay(*args, document_lock=document_lock(db.products, db.categories), **kwargs)
