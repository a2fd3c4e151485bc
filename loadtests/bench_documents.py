"""Throughput of the kit's guarded write path (``emporium_kit.documents``) on FerretDB.

Four targets, each ``--total`` updates from ``--writers`` concurrent writers in this process,
interleaved over ``--rounds`` rounds (each target's best round is reported):

- ``guarded, one hot document``: every writer takes one unit of stock from the same document
  through ``Documents.update`` (lease, read, versioned write, release);
- ``guarded, distinct documents``: each writer updates its own document;
- ``raw update_one`` on the same two shapes: pymongo's conditional ``$inc`` with no lease, the
  write the guarded path replaces. On FerretDB 1.24 it loses updates on the hot document; the
  ``lost`` column counts acknowledged decrements missing from the document.

The collection holds ``--docs`` documents: FerretDB reads only a lone ``{_id}`` filter through
the index (the guarded write's filter there), so a conditional filter's cost (the raw targets')
grows with the collection. Needs the local platform
(``./emporium up``), or ``--test`` for the test suite's instance:

    uv run python loadtests/bench_documents.py [--total 2000] [--writers 16] [--docs 100]
        [--rounds 2] [--test]

Only 127.0.0.1 is contacted; a throwaway database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from benchkit import machine, platform_env
from emporium_kit.documents import Collection, Documents, LeaseConfig, Leases
from emporium_platform import Platform
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

MAX_TOTAL = 20_000
START = 10**9


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    ops: int
    errors: int
    lost: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.ops / self.seconds

    def row(self) -> str:
        q = statistics.quantiles(self.latencies_ms, n=100)
        return (
            f"| {self.name} | {self.ops} | {self.errors} | {self.lost} | {self.rate:,.0f} "
            f"| {q[49]:.1f} | {q[89]:.1f} | {q[98]:.1f} |"
        )


def take_one(current: dict[str, Any]) -> Any:
    return {"$inc": {"stock": -1}}, []


async def _reset(db: AsyncDatabase[dict[str, Any]], docs: int) -> None:
    await db.drop_collection("items")
    await db.drop_collection("locks")
    rows = [{"_id": f"d{n:05d}", "stock": START, "version": 1} for n in range(docs)]
    await db["items"].insert_many(rows)


async def _drive(
    name: str,
    total: int,
    writers: int,
    op: Callable[[int], Awaitable[bool]],
) -> tuple[Outcome, int]:
    latencies: list[float] = []
    errors = acked = 0
    per_writer = total // writers

    async def writer(n: int) -> None:
        nonlocal errors, acked
        for _ in range(per_writer):
            started = time.perf_counter()
            try:
                applied = await op(n)
            except Exception:
                errors += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            acked += applied

    started = time.perf_counter()
    await asyncio.gather(*(writer(n) for n in range(writers)))
    seconds = time.perf_counter() - started
    return Outcome(name, len(latencies), errors, 0, seconds, latencies), acked


async def _round(db: AsyncDatabase[dict[str, Any]], args: argparse.Namespace) -> list[Outcome]:
    leases = Leases(Collection(db["locks"]), LeaseConfig(wait_s=120))
    items = Documents(db["items"], leases=leases, noun="item")
    raw = db["items"]

    def hot(_n: int) -> str:
        return "d00000"

    def own(n: int) -> str:
        return f"d{n % args.docs:05d}"

    async def guarded(pick: Callable[[int], str], n: int) -> bool:
        await items.update(pick(n), take_one)
        return True

    async def unguarded(pick: Callable[[int], str], n: int) -> bool:
        flt = {"_id": pick(n), "stock": {"$gte": 1}}
        result = await raw.update_one(flt, {"$inc": {"stock": -1}})
        return result.modified_count == 1

    outcomes = []
    for label, pick in (("one hot document", hot), ("distinct documents", own)):
        for kind, op in (("guarded", guarded), ("raw update_one", unguarded)):
            await _reset(db, args.docs)
            outcome, acked = await _drive(
                f"{kind}, {label}",
                args.total,
                args.writers,
                lambda n, op=op, pick=pick: op(pick, n),
            )
            left = [doc["stock"] async for doc in raw.find({}, {"stock": 1})]
            applied = sum(START - stock for stock in left)
            outcomes.append(
                Outcome(
                    outcome.name,
                    outcome.ops,
                    outcome.errors,
                    acked - applied,
                    outcome.seconds,
                    outcome.latencies_ms,
                )
            )
    return outcomes


async def main(args: argparse.Namespace) -> None:
    env = Platform.for_tests().env() if args.test else platform_env()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        env["EMPORIUM_MONGO_URL"], tz_aware=True, maxPoolSize=20
    )
    name = f"bench_documents_{str(ULID()).lower()}"
    best: dict[str, Outcome] = {}
    try:
        for _ in range(args.rounds):
            for outcome in await _round(client[name], args):
                if outcome.name not in best or outcome.rate > best[outcome.name].rate:
                    best[outcome.name] = outcome
    finally:
        await client.drop_database(name)
        await client.close()
    print(f"\n{dt.date.today()} — {machine()}")
    print(
        f"{args.total} updates per target and round, {args.writers} concurrent writers, "
        f"{args.docs} documents in the collection, best of {args.rounds} rounds\n"
    )
    print("| target | updates | errors | lost | updates/s | p50 ms | p90 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for outcome in best.values():
        print(outcome.row())


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--total", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--test", action="store_true", help="use the test suite's platform")
    args = parser.parse_args()
    if not 1 <= args.total <= MAX_TOTAL or not 1 <= args.writers <= 64:
        parser.error(f"--total must be 1..{MAX_TOTAL} and --writers 1..64")
    if args.docs < args.writers:
        parser.error("--docs must be at least --writers (one document per writer)")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
