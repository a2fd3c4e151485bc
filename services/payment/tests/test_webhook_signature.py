"""Stripe's webhook signature, as the relay signs and the endpoint (the stripe SDK) verifies."""

from __future__ import annotations

import json
import time

import pytest
from emporium_payment import webhooks

SECRET = "whsec_unit"


def test_a_signed_event_verifies_and_anything_else_is_refused() -> None:
    event = webhooks.event_for("payment_intent.succeeded", {"id": "pi_1", "object": "x"})
    payload = json.dumps(event).encode()
    header = webhooks.signature(payload, SECRET, int(time.time()))
    assert header.startswith("t=")
    assert ",v1=" in header
    assert webhooks.verify(payload, header, SECRET, 300)["id"] == event["id"]

    with pytest.raises(webhooks.InvalidWebhookError):
        webhooks.verify(payload.replace(b"pi_1", b"pi_2"), header, SECRET, 300)
    with pytest.raises(webhooks.InvalidWebhookError):
        webhooks.verify(payload, header, "whsec_other", 300)
    with pytest.raises(webhooks.InvalidWebhookError):
        webhooks.verify(payload, None, SECRET, 300)
    stale = webhooks.signature(payload, SECRET, int(time.time()) - 301)
    with pytest.raises(webhooks.InvalidWebhookError, match="tolerance"):
        webhooks.verify(payload, stale, SECRET, 300)
