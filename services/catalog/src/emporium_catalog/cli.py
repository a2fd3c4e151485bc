"""``emporium-catalog``: run and operate the catalog service.

::

    emporium-catalog serve [--host 127.0.0.1] [--port 8002]
    emporium-catalog seed [--products 2000] [--seed 42] [--no-publish]
    emporium-catalog repair-tree
    emporium-catalog event-schemas DIR
    emporium-catalog dlq list|replay|discard [--consumer NAME] [--seq N]...
    emporium-catalog streams ensure catalog

Settings come from the environment (``EMPORIUM_*``, see ``docs/catalog.md``); ``dlq`` and
``streams`` are the kit's event-bus commands, pointed at the catalog's NATS.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from typing import Any

from emporium_kit.cli import add_service_commands, run_service_command
from emporium_kit.documents import LeaseConfig
from emporium_kit.workers import drain_outbox
from pymongo import AsyncMongoClient

from emporium_catalog import categories, events, seed
from emporium_catalog.relay import writers_lock
from emporium_catalog.settings import CatalogSettings
from emporium_catalog.store import OUTBOX_COLLECTIONS, CatalogDb


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emporium-catalog", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    add_service_commands(commands, service="catalog", events=events.catalog)

    seed_cmd = commands.add_parser("seed", help="load the deterministic demo catalog")
    seed_cmd.add_argument("--products", type=int, default=seed.DEFAULT_PRODUCTS)
    seed_cmd.add_argument("--seed", type=int, default=seed.DEFAULT_SEED)
    seed_cmd.add_argument(
        "--no-product-events",
        action="store_true",
        help="stage no ProductCreated events: for a bootstrap whose read models build from "
        "the catalog's export (search's rebuild, the inventory's seed, the cart's lookups)",
    )
    seed_cmd.add_argument(
        "--no-publish",
        action="store_true",
        help="leave the events in the outbox for the service's outbox worker instead of "
        "publishing them now",
    )

    commands.add_parser(
        "repair-tree", help="re-derive category ancestors from parent links (after a crash)"
    )
    return parser


def _db(client: AsyncMongoClient[dict[str, Any]], settings: CatalogSettings) -> CatalogDb:
    """The store for one command (no breaker to feed)."""
    return CatalogDb(
        client[str(settings.mongo_database)], leases=LeaseConfig.from_settings(settings)
    )


async def _seed(args: argparse.Namespace, settings: CatalogSettings) -> int:
    started = time.perf_counter()
    catalog = seed.generate(products=args.products, seed=args.seed)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url, tz_aware=True, maxPoolSize=settings.mongo_max_pool_size
    )
    try:
        db = _db(client, settings)
        result = await seed.load(db=db, catalog=catalog, product_events=not args.no_product_events)
        print(
            f"seeded {result.categories} categories, {result.sellers} sellers, "
            f"{result.products} products into {settings.mongo_database} "
            f"(demo has {len(catalog.categories)}/{len(catalog.sellers)}/"
            f"{len(catalog.products)}; skipped {len(result.skipped)}) "
            f"in {time.perf_counter() - started:.1f}s"
        )
        if not args.no_publish:
            drained = await drain_outbox(
                settings,
                [db.raw[name] for name in OUTBOX_COLLECTIONS],
                catalog=events.catalog,
                # the running service may write the same documents: its settle time and lock
                settle_s=settings.catalog_relay_settle_s,
                document_lock=writers_lock(db),
            )
            print(f"{drained} ({time.perf_counter() - started:.1f}s in all)")
    finally:
        await client.close()
    return 0


async def _repair_tree(settings: CatalogSettings) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url, tz_aware=True, maxPoolSize=settings.mongo_max_pool_size
    )
    try:
        db = _db(client, settings)
        async with categories.tree_lock(db=db):
            fixed = await categories.repair_category_paths(db=db)
        print(f"repaired {fixed} categor{'y' if fixed == 1 else 'ies'}")
    finally:
        await client.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = CatalogSettings()
    shared = run_service_command(
        args,
        app="emporium_catalog.app",
        settings=settings,
        events=events.catalog,
    )
    if shared is not None:
        return shared
    if args.command == "seed":
        return asyncio.run(_seed(args, settings))
    return asyncio.run(_repair_tree(settings))


if __name__ == "__main__":
    raise SystemExit(main())
