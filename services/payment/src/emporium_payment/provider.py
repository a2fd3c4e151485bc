"""The payment provider interface and its Stripe implementation.

Every call carries an idempotency key derived from the order (``<order>:authorise``,
``:capture``, ``:cancel``, ``:refund``): a call repeated after a crash gets the provider's first
answer, so nothing is charged twice. A second provider (PayPal Orders v2: create with
``intent=AUTHORIZE``, authorize, capture, void, refund, ``PayPal-Request-Id`` as the key) fits
the same four calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import stripe
from emporium_kit.resilience import Dependency


@dataclass(frozen=True)
class Intent:
    """The provider's record of one payment, as far as the saga needs it."""

    id: str
    status: str
    amount: int
    currency: str
    raw: dict[str, Any]


class PaymentProvider(Protocol):
    name: str

    async def authorise(
        self, *, order_id: str, amount: int, currency: str, payment_method: str
    ) -> Intent: ...

    async def capture(self, *, order_id: str, intent_id: str) -> Intent: ...

    async def cancel(self, *, order_id: str, intent_id: str) -> Intent: ...

    async def refund(self, *, order_id: str, intent_id: str, amount: int) -> dict[str, Any]: ...

    async def retrieve(self, *, intent_id: str) -> Intent: ...


def _intent(obj: Any) -> Intent:
    raw = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    return Intent(
        id=raw["id"], status=raw["status"], amount=raw["amount"], currency=raw["currency"], raw=raw
    )


class StripeProvider:
    """PaymentIntents with ``capture_method=manual``: authorise now, capture once the stock is
    held, cancel (nothing to refund) when it is not. Calls run behind the ``stripe``
    dependency's breaker and timeout."""

    name = "stripe"

    def __init__(self, client: stripe.StripeClient, dependency: Dependency) -> None:
        self._client = client
        self.dependency = dependency

    @classmethod
    def create(
        cls, *, api_key: str, api_base: str, timeout_s: float, dependency: Dependency
    ) -> StripeProvider:
        client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base},
            http_client=stripe.HTTPXClient(timeout=timeout_s),
            max_network_retries=0,  # the saga's consumers retry, with the same keys
        )
        return cls(client, dependency)

    async def authorise(
        self, *, order_id: str, amount: int, currency: str, payment_method: str
    ) -> Intent:
        params: Any = {
            "amount": amount,
            "currency": currency.lower(),
            "capture_method": "manual",
            "confirm": True,
            "payment_method": payment_method,
            "payment_method_types": ["card"],
            "metadata": {"order_id": order_id},
        }
        async with self.dependency.guard():
            created = await self._client.v1.payment_intents.create_async(
                params, {"idempotency_key": f"{order_id}:authorise"}
            )
        return _intent(created)

    async def capture(self, *, order_id: str, intent_id: str) -> Intent:
        async with self.dependency.guard():
            captured = await self._client.v1.payment_intents.capture_async(
                intent_id, {}, {"idempotency_key": f"{order_id}:capture"}
            )
        return _intent(captured)

    async def cancel(self, *, order_id: str, intent_id: str) -> Intent:
        async with self.dependency.guard():
            cancelled = await self._client.v1.payment_intents.cancel_async(
                intent_id, {}, {"idempotency_key": f"{order_id}:cancel"}
            )
        return _intent(cancelled)

    async def refund(self, *, order_id: str, intent_id: str, amount: int) -> dict[str, Any]:
        async with self.dependency.guard():
            refund = await self._client.v1.refunds.create_async(
                {"payment_intent": intent_id, "amount": amount},
                {"idempotency_key": f"{order_id}:refund"},
            )
        return refund.to_dict()

    async def retrieve(self, *, intent_id: str) -> Intent:
        async with self.dependency.guard():
            found = await self._client.v1.payment_intents.retrieve_async(intent_id)
        return _intent(found)
