"""Event throughput end to end: the outbox relay, the search indexer, and a rebuild.

Needs the local platform's infrastructure (``./emporium up``, or a test slot's instance with
``EMPORIUM_TEST_SLOT`` set). Everything else is the benchmark's own and removed afterwards:
a private nats-server on a free port, a catalog and a search process on free ports, Mongo
databases and an index alias named after the run. Run:

    uv run python loadtests/bench_events.py [--events 100000] [--rebuild-products 2000]
    uv run python loadtests/bench_events.py --events 10000     # a quick run

1. **Events.** Catalog documents are written to a Mongo database with their events in their
   outbox, as the catalog writes them: the demo catalog's categories (``CategoryChanged``)
   and products, each product with its ``ProductCreated`` and four ``PriceChanged`` (versions
   1-5), ``--events`` in all. Writing them is not timed.
2. **Relay and indexer, concurrently.** The kit's ``OutboxRelay`` (service defaults) is told
   about every document, as writers tell it, and publishes to JetStream while the search
   service (``emporium-search serve``, its batch consumer) indexes. Every
   ``--sample-s`` the benchmark reads the stream's message count and the consumer's ack
   floor. Reported: relay publish events/s, indexer events/s (overall, and sustained: the
   middle 80 % of the events), the time until the outboxes are empty, and the lag curve
   (published minus indexed, over time).
3. **Rebuild.** The demo catalog (``--rebuild-products``) in a catalog process;
   ``emporium-search rebuild`` reads it through the catalog's API into a new index.
   Reported: products/s.

It prints Markdown for docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx
import nats
from benchkit import bench_service, machine, platform_env, private_nats
from emporium_catalog import events as catalog_events
from emporium_catalog import seed
from emporium_catalog.store import CatalogDb
from emporium_kit import clients
from emporium_kit.events import OutboxRelay, ensure_streams, stream_name, with_outbox
from emporium_kit.events.outbox import PENDING_FILTER
from emporium_search.app import catalog_client
from emporium_search.indexer import Indexer
from emporium_search.indices import IndexNames
from emporium_search.rebuild import rebuild
from emporium_search.settings import SearchSettings
from nats.js import JetStreamContext
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

CONSUMER = "search-bench"
PRICE_CHANGES = 4  # per product, after its ProductCreated
INSERT_CHUNK = 1000

Db = AsyncDatabase[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Sample:
    t: float
    published: int
    indexed: int

    @property
    def lag(self) -> int:
        return self.published - self.indexed


def catalog_documents(total: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Category and product documents carrying ``total`` events (about) in their outboxes."""
    categories = seed.generate(products=0).categories
    per_product = 1 + PRICE_CHANGES
    products = max(1, (total - len(categories)) // per_product)
    demo = seed.generate(products=products)
    now = dt.datetime.now(dt.UTC)
    category_docs = [
        with_outbox(doc, [catalog_events.category_changed(doc, change="CREATED", occurred_at=now)])
        for doc in demo.categories
    ]
    product_docs = []
    for doc in demo.products:
        current = {**doc, "version": 1, "updated_at": now}
        entries = [catalog_events.product_created(current, occurred_at=now)]
        for version in range(2, per_product + 1):
            price = {**current["price"], "amount": current["price"]["amount"] + 100}
            changed = {**current, "version": version, "price": price}
            entries.append(catalog_events.price_changed(changed, old_price=current["price"]))
            current = changed
        product_docs.append(with_outbox(current, entries))
    count = len(category_docs) + len(product_docs) * per_product
    return category_docs, product_docs, count


async def write_documents(
    db: Db, categories: list[dict[str, Any]], products: list[dict[str, Any]]
) -> None:
    await db["categories"].insert_many([dict(d) for d in categories])
    for start in range(0, len(products), INSERT_CHUNK):
        await db["products"].insert_many([dict(d) for d in products[start : start + INSERT_CHUNK]])


async def outboxes_empty(db: Db, started: float, *, wait_s: float) -> tuple[float, int | None]:
    """Seconds from ``started`` until no document holds an entry, or until ``wait_s`` more
    have passed, and how many documents still hold entries then (None: FerretDB did not
    even finish counting them in time: the count is a scan, competing with the removals).
    Removal is one document write each, after the publishes, in the background."""
    pending: int | None = None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(wait_s):
            while True:
                counts = [
                    await db[c].count_documents(PENDING_FILTER) for c in ("categories", "products")
                ]
                pending = sum(counts)
                if not pending:
                    break
                await asyncio.sleep(2)
    return time.monotonic() - started, pending


async def sample(js: JetStreamContext) -> tuple[int, int]:
    stream = await js.stream_info(stream_name("catalog"))
    try:
        consumer = await js.consumer_info(stream_name("catalog"), CONSUMER)
    except nats.js.errors.NotFoundError:
        return stream.state.messages, 0
    return stream.state.messages, consumer.ack_floor.stream_seq


async def measure_pipeline(
    args: argparse.Namespace, db: Db, js: JetStreamContext
) -> tuple[int, tuple[float, float, float, float], tuple[float, int | None], list[Sample]]:
    """Relay -> JetStream -> indexer. Returns (events, (relay events/s, indexer events/s
    overall, sustained, after the relay finished), (seconds, documents still holding
    entries then), samples)."""
    say(f"generating about {args.events:,} events")
    categories, products, total = catalog_documents(args.events)
    say(f"writing {len(categories) + len(products):,} documents holding {total:,} events")
    await write_documents(db, categories, products)
    say("publishing and indexing")
    relay = OutboxRelay([db["categories"], db["products"]], js, poll_interval_s=3600)
    samples: list[Sample] = []
    published_at = 0.0
    await relay.start()
    started = time.monotonic()
    # as the catalog's writers do after an insert (Documents.insert): the fresh documents'
    # entries are handed over, so the relay publishes without reading them back
    relay.notify("categories", inserted={d["_id"]: d["outbox"] for d in categories})
    relay.notify("products", inserted={d["_id"]: d["outbox"] for d in products})
    try:
        while True:
            await asyncio.sleep(args.sample_s)
            now = time.monotonic() - started
            published, indexed = await sample(js)
            samples.append(Sample(now, published, indexed))
            if len(samples) % 10 == 0:
                say(f"{now:.0f}s: {published:,} published, {indexed:,} indexed")
            if published >= total and not published_at:
                published_at = now
            if indexed >= total:
                break
            if now > args.timeout_s:
                raise SystemExit(
                    f"gave up after {now:.0f}s: {published} published, {indexed} indexed"
                )
        say("indexed everything; waiting for the relay to empty the outboxes")
        emptied = await outboxes_empty(db, started, wait_s=args.drain_wait_s)
    finally:
        await relay.stop()
    indexed_at = next(s.t for s in samples if s.indexed >= total)
    low = next(s for s in samples if s.indexed >= total * 0.1)
    high = next(s for s in samples if s.indexed >= total * 0.9)
    sustained = (high.indexed - low.indexed) / (high.t - low.t) if high.t > low.t else 0.0
    # the indexer on its own: from the last publish to the last event indexed
    start = next(s for s in samples if s.t >= published_at)
    alone = (total - start.indexed) / (indexed_at - start.t) if indexed_at > start.t else 0.0
    rates = (total / published_at, total / indexed_at, sustained, alone)
    return total, rates, emptied, samples


async def measure_rebuild(
    args: argparse.Namespace, env: dict[str, str], *, tag: str, alias: str, catalog_url: str
) -> Any:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(env["EMPORIUM_MONGO_URL"])
    try:
        await seed.load(
            db=CatalogDb(mongo[f"catalog_bench_{tag}"]),
            catalog=seed.generate(products=args.rebuild_products),
        )
    finally:
        await mongo.close()
    settings = SearchSettings(
        opensearch_url=env["EMPORIUM_OPENSEARCH_URL"],
        search_index_alias=alias,
        search_catalog_url=catalog_url,
    )
    async with httpx.AsyncClient(timeout=30) as http:
        store = clients.opensearch(settings)
        catalog = catalog_client(settings, http)
        indexer = Indexer(store, IndexNames(alias), catalog=catalog)
        try:
            say(f"rebuilding from a catalog of {args.rebuild_products:,} products")
            return await rebuild(indexer=indexer, catalog=catalog, page_size=args.page_size)
        finally:
            await store.close()


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def curve(samples: list[Sample], rows: int = 20) -> list[Sample]:
    """At most ``rows`` evenly spread samples, the last one included."""
    step = max(1, len(samples) // rows)
    picked = samples[::step]
    return picked if picked[-1] is samples[-1] else [*picked, samples[-1]]


async def cleanup(env: dict[str, str], tag: str, alias: str) -> None:
    async with httpx.AsyncClient(base_url=env["EMPORIUM_OPENSEARCH_URL"], timeout=30) as http:
        await http.delete(f"/{alias}*")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(env["EMPORIUM_MONGO_URL"])
    try:
        for name in (f"events_bench_{tag}", f"catalog_bench_{tag}"):
            await mongo.drop_database(name)
    finally:
        await mongo.close()


async def main_async(args: argparse.Namespace) -> None:
    env = {**platform_env(), "EMPORIUM_LOG_LEVEL": "WARNING"}
    tag = str(ULID()).lower()
    alias = f"products_bench_{tag}"
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        env["EMPORIUM_MONGO_URL"], tz_aware=True
    )
    try:
        with private_nats() as nats_url:
            nc = await nats.connect(nats_url)
            js = nc.jetstream()
            await ensure_streams(js, ["catalog"])
            catalog_env = {
                **env,
                "EMPORIUM_NATS_URL": nats_url,
                "EMPORIUM_MONGO_DATABASE": f"catalog_bench_{tag}",
                "EMPORIUM_CATALOG_CACHE_NAMESPACE": f"bench-{tag}",
            }
            with bench_service("catalog", catalog_env) as catalog:
                search_env = {
                    **env,
                    "EMPORIUM_NATS_URL": nats_url,
                    "EMPORIUM_SEARCH_INDEX_ALIAS": alias,
                    "EMPORIUM_SEARCH_CATALOG_URL": catalog.graphql_url,
                    "EMPORIUM_SEARCH_CONSUMER_NAME": CONSUMER,
                    "EMPORIUM_SEARCH_CONSUMER_BATCH_SIZE": str(args.batch_size),
                }
                with bench_service("search", search_env):
                    pipeline = await measure_pipeline(args, mongo[f"events_bench_{tag}"], js)
                    report = await measure_rebuild(
                        args, env, tag=tag, alias=alias, catalog_url=catalog.graphql_url
                    )
            await nc.close()
    finally:
        await mongo.close()
        await cleanup(env, tag, alias)
    total, (relay_rate, overall, sustained, alone), emptied, samples = pipeline
    print(f"{dt.date.today()} · {machine()} · {total:,} catalog events\n")
    print(f"- relay publish: {relay_rate:,.0f} events/s (target >= 2,000)")
    seconds, left = emptied
    if left is None:
        print(f"- outbox clean-up: still counting the documents left after {seconds:.0f}s")
    elif left:
        print(
            f"- outbox clean-up: {left:,} documents still held published entries after "
            f"{seconds:.0f}s (one document write per removal, in the background)"
        )
    else:
        print(f"- outboxes empty after {seconds:.1f}s (one document write per removal)")
    print(
        f"- indexer: {overall:,.0f} events/s overall, {sustained:,.0f} events/s sustained "
        f"(10 % to 90 % of the events), {alone:,.0f} events/s once the relay had published "
        "everything (target >= 1,000)"
    )
    print(
        f"- rebuild: {report.products:,} products in {report.load_seconds:.1f}s = "
        f"{report.products_per_second:,.0f} products/s (target >= 1,000; "
        f"{report.seconds:.1f}s in all)\n"
    )
    print("| seconds | published | indexed | lag (events) |")
    print("|---:|---:|---:|---:|")
    for s in curve(samples):
        print(f"| {s.t:.1f} | {s.published:,} | {s.indexed:,} | {s.lag:,} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="catalog events to publish")
    parser.add_argument("--rebuild-products", type=int, default=2000, help="demo catalog size")
    parser.add_argument("--batch-size", type=int, default=2000, help="the indexer's batch size")
    parser.add_argument("--page-size", type=int, default=1000, help="rebuild page size")
    parser.add_argument("--sample-s", type=float, default=0.25, help="lag sampling interval")
    parser.add_argument(
        "--drain-wait-s", type=float, default=120, help="how long to wait for empty outboxes"
    )
    parser.add_argument("--timeout-s", type=float, default=1800, help="give up after this")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
