"""The order service's database: orders behind the kit's guarded write path
(``emporium_kit.documents``), and the consumer's processed ids."""

from __future__ import annotations

from emporium_kit.documents import ServiceDb
from emporium_kit.errors import Conflict, NotFound

ORDERS = "orders"
PROCESSED_EVENTS = "processed_events"
OUTBOX_COLLECTIONS = (ORDERS,)


class OrderDb(ServiceDb):
    def declare(self) -> None:
        # seconds an order may wait in a saga step (status -> timeout): the sweeper's deadlines
        self.deadlines: dict[str, float] = {}
        self.orders = self.aggregates(
            ORDERS,
            noun="order",
            not_found=lambda: NotFound("ORDER_NOT_FOUND", "no such order", ["id"]),
            busy=lambda: Conflict("ORDER_BUSY", "the order is being changed; retry"),
        )
