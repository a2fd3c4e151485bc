"""The inventory service's database: stock per SKU and reservations, both aggregates behind
the kit's guarded write path (``emporium_kit.documents``), and the consumer's processed ids.

``InventoryDb`` is the ``db`` every use case takes first (``reserve(*, db, ...)``).
"""

from __future__ import annotations

from emporium_kit.documents import ServiceDb
from emporium_kit.errors import Conflict, NotFound

STOCK = "stock"
RESERVATIONS = "reservations"
PROCESSED_EVENTS = "processed_events"
# the seed's announcements: one document carrying a page of seeded SKUs' events
SEED_BATCHES = "seed_batches"
# every collection whose documents carry outbox entries: what the relay watches
OUTBOX_COLLECTIONS = (STOCK, RESERVATIONS, SEED_BATCHES)


class InventoryDb(ServiceDb):
    def declare(self) -> None:
        self.stock = self.aggregates(
            STOCK,
            noun="SKU",
            not_found=lambda: NotFound("SKU_NOT_FOUND", "no stock is kept for this SKU", ["sku"]),
            busy=lambda: Conflict(
                "STOCK_BUSY", "the SKU's stock is being changed by other requests; retry"
            ),
        )
        self.reservations = self.aggregates(
            RESERVATIONS,
            noun="reservation",
            not_found=lambda: NotFound(
                "RESERVATION_NOT_FOUND", "no such reservation", ["reservationId"]
            ),
            busy=lambda: Conflict(
                "RESERVATION_BUSY", "the reservation is being changed by another request; retry"
            ),
        )
