"""Reconciliation: payments compared with the provider's intents, missed webhooks repaired,
what cannot be a legal move flagged."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from emporium_payment import payments
from emporium_payment.models import PaymentStatus
from emporium_payment.provider import Intent
from emporium_payment.store import PaymentDb
from emporium_platform.harness import Stack
from pymongo import AsyncMongoClient
from ulid import ULID

pytestmark = pytest.mark.integration


class ProviderRecords:
    """The provider's side of a reconciliation: stripe-mock keeps no records, so the records
    are stated here, in the shape the Stripe provider returns them."""

    name = "stripe"

    def __init__(self, statuses: dict[str, str]) -> None:
        self.statuses = statuses

    async def retrieve(self, *, intent_id: str) -> Intent:
        status = self.statuses[intent_id]
        return Intent(id=intent_id, status=status, amount=100, currency="eur", raw={})


@pytest.fixture
async def db(platform: Any) -> AsyncIterator[PaymentDb]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.mongo_url, tz_aware=True)
    name = f"payment_reconcile_{str(ULID()).lower()}"
    yield PaymentDb(client[name])
    await client.drop_database(name)
    await client.close()


async def stored(db: PaymentDb, status: PaymentStatus, intent_id: str | None) -> str:
    order_id = f"order-{ULID()}"
    doc = payments._new(order_id, "user-1", 100, "EUR", status)
    await db.payments.insert({**doc, "intent_id": intent_id})
    return order_id


async def test_a_missed_webhook_is_repaired_and_an_impossible_state_flagged(
    db: PaymentDb,
) -> None:
    missed = await stored(db, PaymentStatus.INITIATED, "pi_missed")
    agreed = await stored(db, PaymentStatus.CAPTURED, "pi_agreed")
    impossible = await stored(db, PaymentStatus.VOIDED, "pi_impossible")
    lost = await stored(db, PaymentStatus.PENDING, None)
    provider = ProviderRecords(
        {"pi_missed": "requires_capture", "pi_agreed": "succeeded", "pi_impossible": "succeeded"}
    )
    service = payments.Payments(db=db, provider=provider)  # type: ignore[arg-type]
    # a window that holds them whatever the clock does between their writes and this read
    at = datetime.now(UTC)
    window = {"since": at - timedelta(hours=1), "until": at + timedelta(minutes=1)}

    checked, dry = await payments.reconcile(service, **window, repair=False)
    assert checked == 4
    assert {(d.order_id, d.action) for d in dry} == {
        (missed, "would repair"),
        (impossible, "flagged"),
        (lost, "flagged"),
    }
    assert (await db.payments.get(missed))["status"] == "INITIATED"

    _, done = await payments.reconcile(service, **window, repair=True)
    assert {(d.order_id, d.action) for d in done} >= {(missed, "repaired")}
    repaired = await db.payments.get(missed)
    assert repaired["status"] == "AUTHORISED"
    assert [e["type"] for e in repaired["outbox"]] == ["PaymentSucceeded"]
    assert (await db.payments.get(agreed))["status"] == "CAPTURED"


def test_the_command_reads_stripe_mock_and_reports(stack: Stack, platform: Any) -> None:
    """Against stripe-mock (canned intents, still in flight) nothing is repaired; the command
    runs against the service's own database and reports."""
    env = {
        **stack["payment"].env,
        "EMPORIUM_MONGO_DATABASE": stack.database("payment"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "emporium_payment.cli", "reconcile", "--since", "2020-01-01T00:00Z"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "checked " in result.stdout, result.stderr
    assert "0 drifted" in result.stdout or "flagged" in result.stdout
