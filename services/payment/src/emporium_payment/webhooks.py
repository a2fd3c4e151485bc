"""Stripe webhooks: the verifying endpoint's parsing, and the relay that delivers them locally.

**Verification** is the ``stripe`` SDK's own (``Webhook.construct_event``): the
``Stripe-Signature`` header ``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`` must
match the endpoint secret, and ``t`` must be within the tolerance (300 s): a replayed or
forged delivery is refused before its body is parsed.

**The relay** exists because stripe-mock (the local Stripe) is stateless and sends no
webhooks. After each provider call the payment service hands the relay the event Stripe would
send in test mode — the same event types, the PaymentIntent as the event's object — and the
relay POSTs it to the service's own endpoint, signed exactly as Stripe signs. It is configured
only on the local platform and in tests (``EMPORIUM_PAYMENT_WEBHOOK_RELAY_URL``); in production
Stripe delivers. Like Stripe, it retries a delivery that was not answered with a 2xx, with
backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx
import stripe
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential
from ulid import ULID

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Stripe-Signature"
API_VERSION = "2025-09-30.clover"
# Stripe's test payment methods that are declined on confirmation
DECLINED_TEST_METHODS = frozenset(
    {
        "pm_card_chargeDeclined",
        "pm_card_visa_chargeDeclined",
        "pm_card_chargeDeclinedInsufficientFunds",
        "pm_card_chargeDeclinedExpiredCard",
    }
)


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value Stripe sends for ``payload`` at ``timestamp``."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class InvalidWebhookError(Exception):
    """A delivery that is not Stripe's: bad or stale signature, or not an event."""


def verify(payload: bytes, header: str | None, secret: str, tolerance_s: int) -> dict[str, Any]:
    """The event of a verified delivery, as a plain dict."""
    try:
        event = stripe.Webhook.construct_event(payload, header, secret, tolerance=tolerance_s)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise InvalidWebhookError(str(exc).split("\n")[0]) from None
    verified: dict[str, Any] = event.to_dict()
    return verified


def event_for(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A Stripe event envelope around ``obj`` (a PaymentIntent or a Charge)."""
    return {
        "id": f"evt_{ULID()}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": obj},
    }


class WebhookRelay:
    """Delivers Stripe-format events to ``url``, signed with ``secret``, in the background."""

    def __init__(
        self, url: str, secret: str, *, http: httpx.AsyncClient, attempts: int = 8
    ) -> None:
        self.url = url
        self._secret = secret
        self._http = http
        self._attempts = attempts
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, event: dict[str, Any]) -> None:
        task = asyncio.create_task(self._deliver(event), name=f"webhook-{event['id']}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, event: dict[str, Any]) -> None:
        payload = json.dumps(event).encode()
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._attempts),
                wait=wait_exponential(multiplier=0.2, max=10),
                retry=retry_if_exception_type(httpx.HTTPError),
                reraise=True,
            ):
                with attempt:
                    header = signature(payload, self._secret, int(time.time()))
                    response = await self._http.post(
                        self.url,
                        content=payload,
                        headers={"Content-Type": "application/json", SIGNATURE_HEADER: header},
                    )
                    response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("webhook %s %s not delivered: %r", event["type"], event["id"], exc)

    async def drain(self) -> None:
        """Wait for the deliveries in flight (shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
