"""``emporium-cart``: run and operate the cart service.

::

    emporium-cart serve [--host 127.0.0.1] [--port 8004]
    emporium-cart seed [--items 3]
    emporium-cart event-schemas DIR
    emporium-cart dlq list|replay|discard ...
    emporium-cart streams ensure cart
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from emporium_kit.cli import add_service_commands, run_service_command
from emporium_kit.documents import LeaseConfig
from pymongo import AsyncMongoClient

from emporium_cart import events, items
from emporium_cart.models import ItemCreate
from emporium_cart.settings import CartSettings
from emporium_cart.store import CartDb


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emporium-cart", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_service_commands(commands, service="cart", events=events.events)
    seed = commands.add_parser(
        "seed", help="create demo items (their events wait in the outbox)"
    )
    seed.add_argument("--items", type=int, default=3)
    return parser


async def _seed(args: argparse.Namespace, settings: CartSettings) -> int:
    client: AsyncMongoClient[dict] = AsyncMongoClient(
        settings.mongo_url, tz_aware=True, maxPoolSize=settings.mongo_max_pool_size
    )
    try:
        db = CartDb(
            client[str(settings.mongo_database or settings.service_name)],
            leases=LeaseConfig.from_settings(settings),
        )
        for number in range(1, args.items + 1):
            await items.create_item(db=db, data=ItemCreate(name=f"Demo item {number}"))
    finally:
        await client.close()
    print(f"seeded {args.items} items")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = CartSettings()
    shared = run_service_command(
        args,
        app="emporium_cart.app",
        settings=settings,
        events=events.events,
    )
    if shared is not None:
        return shared
    return asyncio.run(_seed(args, settings))


if __name__ == "__main__":
    raise SystemExit(main())
