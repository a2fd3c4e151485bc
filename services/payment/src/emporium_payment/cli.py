"""``emporium-payment``: run and operate the payment service.

::

    emporium-payment serve [--host 127.0.0.1] [--port 8006]
    emporium-payment event-schemas DIR
    emporium-payment dlq list|replay|discard ...
    emporium-payment streams ensure payment
    emporium-payment reconcile --since 2026-12-01T00:00Z [--until ...] [--dry-run]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from emporium_kit.cli import add_service_commands, run_service_command
from emporium_kit.documents import LeaseConfig
from emporium_kit.resilience import Dependency
from pymongo import AsyncMongoClient

from emporium_payment import events, payments
from emporium_payment.provider import StripeProvider
from emporium_payment.settings import PaymentSettings
from emporium_payment.store import PaymentDb


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emporium-payment", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add_service_commands(commands, service="payment", events=events.events)
    reconcile = commands.add_parser(
        "reconcile", help="compare payments with the provider's records; repair missed webhooks"
    )
    reconcile.add_argument("--since", type=_instant, required=True, help="ISO-8601 instant")
    reconcile.add_argument("--until", type=_instant, default=None, help="default: now")
    reconcile.add_argument("--dry-run", action="store_true", help="report, change nothing")
    return parser


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _reconcile(args: argparse.Namespace, settings: PaymentSettings) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    try:
        db = PaymentDb(
            client[str(settings.mongo_database or settings.service_name)],
            leases=LeaseConfig.from_settings(settings),
        )
        provider = StripeProvider.create(
            api_key=settings.stripe_api_key.get_secret_value(),
            api_base=settings.stripe_api_base,
            timeout_s=settings.stripe_timeout_s,
            dependency=Dependency("stripe", timeout_s=settings.stripe_timeout_s),
        )
        checked, drift = await payments.reconcile(
            payments.Payments(db=db, provider=provider),
            since=args.since,
            until=args.until or datetime.now(UTC),
            repair=not args.dry_run,
        )
    finally:
        await client.close()
    for row in drift:
        print(f"{row.order_id}  ours={row.ours}  provider={row.theirs}  {row.action}")
    flagged = sum(row.action == "flagged" for row in drift)
    print(f"checked {checked} payments: {len(drift) - flagged} drifted, {flagged} flagged")
    return 1 if flagged else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = PaymentSettings()
    result = run_service_command(
        args, app="emporium_payment.app", settings=settings, events=events.events
    )
    if result is not None:
        return result
    return asyncio.run(_reconcile(args, settings))


if __name__ == "__main__":
    raise SystemExit(main())
