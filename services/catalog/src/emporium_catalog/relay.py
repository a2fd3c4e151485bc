"""The lock the outbox relay holds while it removes published entries, as the catalog runs it
(the app's outbox worker and ``emporium-catalog seed``'s drain)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from emporium_catalog import service
from emporium_kit.events.outbox import DocumentLock


def writers_lock(db: service.Db) -> DocumentLock:
    """The lease the catalog's writers hold, for the relay's removals. FerretDB 1.24 applies
    an update as an unguarded read-modify-write: a removal interleaved with a product write
    would write the old document back, losing that write and its events. Under the same
    lease the two cannot interleave."""

    def lock(collection: str, document_id: Any) -> AbstractAsyncContextManager[Any]:
        if collection == service.PRODUCTS:
            return service.product_lease(db, document_id)
        if collection == service.CATEGORIES:
            return service.tree_lock(db)
        return nullcontext()  # seed batches: written once, never updated by the service

    return lock
