"""The payment service's database: one payment per order, behind the kit's guarded write
path (``emporium_kit.documents``), and the consumer's processed ids."""

from __future__ import annotations

from emporium_kit.documents import ServiceDb
from emporium_kit.errors import Conflict, NotFound

PAYMENTS = "payments"
PROCESSED_EVENTS = "processed_events"
OUTBOX_COLLECTIONS = (PAYMENTS,)


class PaymentDb(ServiceDb):
    def declare(self) -> None:
        self.payments = self.aggregates(
            PAYMENTS,
            noun="payment",
            not_found=lambda: NotFound(
                "PAYMENT_NOT_FOUND", "no payment for this order", ["orderId"]
            ),
            busy=lambda: Conflict("PAYMENT_BUSY", "the payment is being changed; retry"),
        )
