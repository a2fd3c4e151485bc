"""``emporium-inventory``: run and operate the inventory service.

::

    emporium-inventory serve [--host 127.0.0.1] [--port 8007]
    emporium-inventory seed
    emporium-inventory event-schemas DIR
    emporium-inventory dlq list|replay|discard ...
    emporium-inventory streams ensure inventory
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any

from emporium_kit.cli import add_service_commands, run_service_command
from pymongo import AsyncMongoClient

from emporium_inventory import events, seed
from emporium_inventory.settings import InventorySettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emporium-inventory", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add_service_commands(commands, service="inventory", events=events.events)
    commands.add_parser(
        "seed", help="demo stock for every offer the catalog sells (bulk, idempotent)"
    )
    return parser


async def _seed(settings: InventorySettings) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    try:
        db = client[str(settings.mongo_database or settings.service_name)]
        seen, created = await seed.seed(
            db=db,
            catalog_url=settings.inventory_catalog_url,
            timeout_s=max(settings.http_timeout_s, 60.0),
        )
    finally:
        await client.close()
    print(f"{seen} offers in the catalog, {created} new stock documents")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = InventorySettings()
    if args.command == "seed":
        return asyncio.run(_seed(settings))
    result = run_service_command(
        args, app="emporium_inventory.app", settings=settings, events=events.events
    )
    return result if result is not None else 2


if __name__ == "__main__":
    raise SystemExit(main())
