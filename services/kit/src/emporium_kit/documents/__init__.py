"""The guarded write path every service uses for its MongoDB documents.

FerretDB 1.24 (the local platform) applies every update as an unguarded read-modify-write:
of 500 concurrent conditional ``$inc`` updates of one document, all are acknowledged and a
few dozen applied. Only an insert on a unique ``_id`` is atomic. MongoDB (production) is
atomic per document. One code path is exact on both::

    mongo = clients.mongo(settings)
    leases = Leases(Collection(mongo.db[LOCKS], mongo.dependency.guard),
                    LeaseConfig.from_settings(settings))
    products = Documents(mongo.db["products"], mongo.dependency.guard, leases=leases,
                         noun="product", not_found=..., busy=..., notify=relay)

    def reprice(current):                       # may raise a DomainError to refuse
        if current["price"] == new_price:
            return None                         # nothing to change
        return {"price": new_price}, [price_changed(current, new_price)]

    product = await products.update(product_id, reprice, expected_version=3)
    await products.insert({"_id": pid, ...}, [product_created(...)])
    relay = OutboxRelay([...], js, document_lock=document_lock(products))

- :class:`Collection`: a collection whose every call runs inside the Mongo dependency's
  ``guard()`` (breaker + timeout): ``get``, ``find_one``, ``find``, ``count``, ``exists``,
  ``insert_one``, ``delete_one``, ``delete_many``, and ``update_owned`` for a document with
  one writer by construction.
- :class:`Leases`: per-aggregate mutual exclusion across processes, built on atomic ``_id``
  inserts only, takeover of a crashed holder's lease included (protocol in
  :mod:`emporium_kit.documents.lease`).
- :class:`Documents`: a :class:`Collection` of aggregates. :meth:`Documents.update` holds the
  document's lease, reads it, applies ``change`` and its outbox events in one
  single-document write filtered on ``{_id, version}`` with ``$inc: {version: 1}``, and
  tells the relay. Every concurrent write goes through it, counters such as stock included.
- :func:`document_lock`: the same leases for the outbox relay's removals.
- :class:`LeasePruner`: the periodic job removing what finished leases left behind.
- :class:`ServiceDb`: the base of a service's database object (its leases, its aggregates and
  collections, ``connect`` for the app); :func:`now` at BSON precision.
"""

from emporium_kit.documents.collection import Collection, Doc, Guard, unguarded
from emporium_kit.documents.lease import (
    LOCKS,
    Lease,
    LeaseConfig,
    LeaseExpired,
    LeasePruner,
    Leases,
    Refusal,
)
from emporium_kit.documents.store import ServiceDb, now
from emporium_kit.documents.versioned import (
    Change,
    ChangeResult,
    Documents,
    NotifyTarget,
    document_lock,
)

__all__ = [
    "LOCKS",
    "Change",
    "ChangeResult",
    "Collection",
    "Doc",
    "Documents",
    "Guard",
    "Lease",
    "LeaseConfig",
    "LeaseExpired",
    "LeasePruner",
    "Leases",
    "NotifyTarget",
    "Refusal",
    "ServiceDb",
    "document_lock",
    "now",
    "unguarded",
]
