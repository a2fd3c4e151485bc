"""The lock the outbox relay holds while it removes published entries, as the catalog runs it
(the app's outbox worker and ``emporium-catalog seed``'s drain)."""

from __future__ import annotations

from emporium_kit.documents import document_lock
from emporium_kit.events.outbox import DocumentLock

from emporium_catalog.store import CatalogDb


def writers_lock(db: CatalogDb) -> DocumentLock:
    """The leases of the catalog's writers: a removal never interleaves with a product or
    category write (seed batches are written once and need none)."""
    return document_lock(db.products, db.categories)
