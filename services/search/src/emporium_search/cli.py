"""``emporium-search``: run the service and operate its index.

::

    emporium-search serve [--host 127.0.0.1] [--port 8003]
    emporium-search rebuild [--page-size 1000] [--keep-old] [--force]
    emporium-search status                 # aliases, indices, document counts
    emporium-search dlq list|replay|discard [--consumer search-indexer] ...
    emporium-search streams ensure catalog

Settings come from the environment (``EMPORIUM_*``, ``.platform/env``); see docs/search.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import httpx
from emporium_kit import clients
from emporium_kit.cli import add_service_commands, run_service_command

from emporium_search.app import catalog_client
from emporium_search.catalog_client import CatalogClient
from emporium_search.indexer import Indexer
from emporium_search.indices import IndexNames
from emporium_search.rebuild import RebuildInProgressError, rebuild
from emporium_search.settings import SearchSettings


def build_parser(settings: SearchSettings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emporium-search", description=__doc__.split("\n")[0])
    parser.add_argument("--nats-url", default=settings.nats_url)
    commands = parser.add_subparsers(dest="command", required=True)
    add_service_commands(commands, service="search")
    build = commands.add_parser("rebuild", help="rebuild the index from the catalog API")
    build.add_argument(
        "--page-size", type=int, default=1000, choices=range(1, 2001), metavar="1..2000"
    )
    build.add_argument("--keep-old", action="store_true", help="keep the replaced index")
    build.add_argument("--force", action="store_true", help="abandon an unfinished rebuild")
    commands.add_parser("status", help="show the aliases, indices and document counts")
    return parser


def _indexer(settings: SearchSettings, catalog: CatalogClient) -> Indexer:
    return Indexer(
        clients.opensearch(settings),
        IndexNames(settings.search_index_alias),
        catalog=catalog,
        shards=settings.search_index_shards,
        replicas=settings.search_index_replicas,
        targets_ttl_s=settings.search_targets_ttl_s,
    )


async def _rebuild(settings: SearchSettings, args: argparse.Namespace) -> int:
    async with httpx.AsyncClient(timeout=settings.http_timeout_s) as http:
        catalog = catalog_client(settings, http)
        indexer = _indexer(settings, catalog)
        try:
            report = await rebuild(
                indexer=indexer,
                catalog=catalog,
                page_size=args.page_size,
                keep_old=args.keep_old,
                force=args.force,
                progress=print,
            )
        except RebuildInProgressError as exc:
            print(exc, file=sys.stderr)
            return 1
        finally:
            await indexer.store.close()
    print(
        f"rebuilt {report.index}: {report.products} products "
        f"({report.products_per_second:,.0f}/s while loading), {report.categories} categories, "
        f"{report.tombstones} tombstones, {report.conflicts} newer versions kept, "
        f"{report.seconds:.1f}s in all"
    )
    return 0


async def _status(settings: SearchSettings) -> int:
    async with httpx.AsyncClient(timeout=settings.http_timeout_s) as http:
        indexer = _indexer(settings, catalog_client(settings, http))
        try:
            state = await indexer.admin.aliases()
            names = indexer.names
            for label, indices in (("live", state.live), ("building", state.building)):
                alias = names.alias if label == "live" else names.building
                for index in indices:
                    count = await indexer.admin.count(index)
                    print(f"{label:9} {alias} -> {index}  {count} documents")
                if not indices:
                    print(f"{label:9} {alias} -> (none)")
        finally:
            await indexer.store.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    settings = SearchSettings()
    args = build_parser(settings).parse_args(argv)
    shared = run_service_command(args, app="emporium_search.app", settings=settings)
    if shared is not None:
        return shared
    if args.command == "rebuild":
        return asyncio.run(_rebuild(settings, args))
    return asyncio.run(_status(settings))


if __name__ == "__main__":
    raise SystemExit(main())
