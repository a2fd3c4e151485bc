"""The shopper's reads at two catalog sizes: a product page by slug and a category page.

Needs the local platform's infrastructure (``./emporium up``, or a test slot's instance with
``EMPORIUM_TEST_SLOT`` set). For each catalog size (``--sizes``, default 2,000 and 20,000
products) the benchmark loads the demo catalog into a database of its own, indexes the same
products into an index alias of its own, starts a catalog and a query-only search process,
and measures through each subgraph:

- **product page by slug, uncached**: ``productBySlug`` for products never read before
  (each slug once, so the catalog's Redis cache never has it): the slug's claim and the
  product, two ``_id`` reads on FerretDB;
- **category page with facets**: ``search(filter: {categoryId}, sort, first: 24)`` with
  every facet and the total, from the OpenSearch read model, over the demo's categories.

A read that scans would grow with the catalog; these should not. Printed: p50/p99 and req/s
per size and the 20,000 / 2,000 ratio, as Markdown for docs/performance.md. Run:

    uv run python loadtests/bench_shopper.py [--sizes 2000 20000] [--total 600]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sys
from typing import Any

import httpx
from benchkit import (
    TABLE_HEADER,
    Result,
    bench_service,
    graphql_request,
    machine,
    platform_env,
    private_nats,
    run_load,
)
from emporium_catalog import events as catalog_events
from emporium_catalog import seed
from emporium_catalog.store import CATEGORIES, SEED_BATCHES, CatalogDb
from emporium_kit import clients
from emporium_search.indexer import Indexer
from emporium_search.indices import IndexNames
from emporium_search.models import CategoryChangedView, ProductView
from emporium_search.settings import SearchSettings
from pymongo import AsyncMongoClient
from ulid import ULID

BY_SLUG = """
query Product($slug: String!) {
  productBySlug(slug: $slug) { id slug name brand price { amount currency } availability }
}
"""

CATEGORY_PAGE = """
query CategoryPage($filter: SearchFilter, $sort: SearchSort) {
  search(filter: $filter, sort: $sort, first: 24) {
    edges { cursor node { id } }
    totalCount
    facets {
      categories { category { id } count }
      brands { value count }
      sellers { value count }
      availability { value count }
      priceRanges { from to count }
      attributes { name values { value count } }
    }
  }
}
"""

SORTS = ("RELEVANCE", "PRICE_ASC", "PRICE_DESC", "NEWEST")
INDEX_CHUNK = 1000
STARTUP_TIMEOUT_S = 900.0


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def load_catalog(mongo: AsyncMongoClient[dict[str, Any]], database: str, demo: Any) -> None:
    """The demo catalog as the seed writes it, minus its pending events: the benchmark's
    catalog has no relay work to do while it is measured."""
    db = mongo[database]
    await seed.load(db=CatalogDb(db), catalog=demo)
    await db.drop_collection(SEED_BATCHES)
    await db[CATEGORIES].update_many({}, {"$unset": {"outbox": ""}})


async def index_catalog(settings: SearchSettings, demo: Any) -> None:
    """The same products in the search index, written in bulk by the indexer."""
    store = clients.opensearch(settings)
    indexer = Indexer(store, IndexNames(settings.search_index_alias))
    try:
        await indexer.admin.bootstrap()
        categories = [
            CategoryChangedView.model_validate(
                catalog_events.category_changed(doc, change="CREATED").data.model_dump()
            ).category()
            for doc in demo.categories
        ]
        await indexer.put_categories(categories)
        views = [
            ProductView.model_validate(catalog_events.product_created(doc).data.model_dump())
            for doc in demo.products
        ]
        for start in range(0, len(views), INDEX_CHUNK):
            await indexer.upsert(views[start : start + INDEX_CHUNK])
        await indexer.admin.refresh(settings.search_index_alias)
    finally:
        await store.close()


async def measure(
    args: argparse.Namespace, env: dict[str, str], nats_url: str, size: int, tag: str
) -> list[Result]:
    database = f"shop_bench_{tag}_{size}"
    alias = f"products_shopbench_{tag}_{size}"
    demo = seed.generate(products=size)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(env["EMPORIUM_MONGO_URL"])
    settings = SearchSettings(
        opensearch_url=env["EMPORIUM_OPENSEARCH_URL"], search_index_alias=alias
    )
    try:
        say(f"{size:,} products: loading the catalog")
        await load_catalog(mongo, database, demo)
        say(f"{size:,} products: indexing")
        await index_catalog(settings, demo)
        catalog_env = {
            **env,
            "EMPORIUM_NATS_URL": nats_url,
            "EMPORIUM_MONGO_DATABASE": database,
            "EMPORIUM_CATALOG_CACHE_NAMESPACE": f"shop-{tag[-12:]}-{size}",
            # start-up builds the unique indexes over the whole collection (FerretDB scans);
            # the measured reads are `_id` lookups, far inside any timeout
            "EMPORIUM_MONGO_TIMEOUT_S": "60",
        }
        search_env = {
            **env,
            "EMPORIUM_SEARCH_INDEX_ALIAS": alias,
            "EMPORIUM_SEARCH_INDEXING_ENABLED": "false",
        }
        rng = random.Random(size)
        slugs = [p["slug"] for p in demo.products]
        rng.shuffle(slugs)
        by_slug = [graphql_request("/graphql", BY_SLUG, {"slug": s}) for s in slugs]
        pages = [
            graphql_request(
                "/graphql",
                CATEGORY_PAGE,
                {"filter": {"categoryId": c["_id"]}, "sort": SORTS[i % len(SORTS)]},
            )
            for i, c in enumerate(demo.categories)
        ]
        load = {"total": args.total, "concurrency": args.concurrency, "warmup": 50}
        catalog = bench_service("catalog", catalog_env)
        search = bench_service("search", search_env)
        try:
            # start-up builds the catalog's unique indexes over the whole collection: on
            # FerretDB that is a scan of every product, minutes at 20,000 on a busy machine
            catalog.start(timeout=STARTUP_TIMEOUT_S)
            search.start(timeout=STARTUP_TIMEOUT_S)
            say(f"{size:,} products: measuring")
            results = [
                await run_load(
                    f"product by slug, uncached ({size:,})",
                    "127.0.0.1",
                    catalog.port,
                    by_slug,
                    spread=True,
                    **load,
                ),
                await run_load(
                    f"category page with facets ({size:,})", "127.0.0.1", search.port, pages, **load
                ),
            ]
        finally:
            search.stop()
            catalog.stop()
        for r in results:
            say(r.row())
        return results
    finally:
        await mongo.drop_database(database)
        await mongo.close()
        async with httpx.AsyncClient(base_url=env["EMPORIUM_OPENSEARCH_URL"], timeout=30) as http:
            await http.delete(f"/{alias}*")


async def main_async(args: argparse.Namespace) -> None:
    env = {**platform_env(), "EMPORIUM_LOG_LEVEL": "WARNING"}
    tag = str(ULID()).lower()
    results: dict[int, list[Result]] = {}
    with private_nats() as nats_url:
        for size in args.sizes:
            results[size] = await measure(args, env, nats_url, size, tag)
    print(
        f"{dt.date.today()} · {machine()} · {args.total} requests per target, "
        f"{args.concurrency} connections\n"
    )
    print(TABLE_HEADER)
    for size in args.sizes:
        for r in results[size]:
            print(r.row())
    small, large = min(args.sizes), max(args.sizes)
    if small != large:
        print()
        for position, what in enumerate(("product by slug", "category page")):
            a, b = results[small][position], results[large][position]
            print(
                f"- {what}: p99 {b.p99_ms:.1f} ms at {large:,} vs {a.p99_ms:.1f} ms at "
                f"{small:,} products ({b.p99_ms / a.p99_ms:.2f}x)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--total", type=int, default=600, help="requests per target")
    parser.add_argument("--concurrency", type=int, default=4)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
