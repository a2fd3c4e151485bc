"""The guarded write path on the platform's real FerretDB 1.24.

FerretDB applies every update as an unguarded read-modify-write (500 concurrent conditional
decrements: all acknowledged, a few dozen applied). These tests drive many concurrent
writers at one document, from independent clients and from separate OS processes, with
holders crashing mid-hold, and count: every write must be applied exactly once. Each writer
pushes its operation id in the same write as its decrement, so a lost update would show as
an acknowledged id missing from the document.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from emporium_kit.documents import (
    Collection,
    Documents,
    LeaseConfig,
    LeaseExpired,
    Leases,
    document_lock,
)
from emporium_kit.documents.lease import utcnow
from emporium_kit.documents.versioned import answers_only_lone_id_from_index
from emporium_kit.errors import Conflict, NotFound
from emporium_kit.events.envelope import EventSpec
from emporium_kit.resilience import Dependency, DependencyUnavailable
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import WaitQueueTimeoutError
from ulid import ULID

from .documents_worker import take_one

pytestmark = pytest.mark.integration

WORKER = Path(__file__).with_name("documents_worker.py")
Db = AsyncDatabase[dict[str, Any]]


class StockChanged(BaseModel):
    stock: int


STOCK_CHANGED = EventSpec("kittest", "StockChanged", StockChanged)


@pytest.fixture
def database() -> str:
    return f"kit_documents_{str(ULID()).lower()}"


@pytest.fixture
async def db(platform: Any, database: str) -> AsyncIterator[Db]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.mongo_url, tz_aware=True)
    try:
        yield client[database]
    finally:
        await client.drop_database(database)
        await client.close()


def make_documents(db: Db, config: LeaseConfig | None = None, **kwargs: Any) -> Documents:
    leases = Leases(Collection(db["locks"]), config or LeaseConfig(ttl_s=10, margin_s=3))
    return Documents(db["items"], leases=leases, noun="item", **kwargs)


def stock_event(doc_id: str, stock: int) -> Any:
    return STOCK_CHANGED.new(StockChanged(stock=stock), aggregate_id=doc_id, source="kittest")


class Hints:
    """Records what the write path tells the relay."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, list[Any]]] = []

    def notify(self, collection: str, ids: Any) -> None:
        self.seen.append((collection, list(ids)))


async def test_update_writes_change_events_and_version_together(db: Db) -> None:
    hints = Hints()
    items = make_documents(db, notify=hints)
    created = await items.insert({"_id": "a", "stock": 5}, [stock_event("a", 5)])
    assert created == {"_id": "a", "stock": 5, "version": 1}
    assert hints.seen == [("items", ["a"])]

    def sell(current: dict[str, Any]) -> Any:
        left = current["stock"] - 1
        return {"stock": left}, [stock_event("a", left)]

    sold = await items.update("a", sell)
    assert sold == {"_id": "a", "stock": 4, "version": 2}
    stored = await db["items"].find_one({"_id": "a"})
    assert stored is not None
    assert [e["event"]["data"] for e in stored["outbox"]] == [{"stock": 5}, {"stock": 4}]
    assert hints.seen[-1] == ("items", ["a"])

    # an update document works too; no events means nothing to tell the relay
    bumped = await items.update("a", lambda _: ({"$inc": {"stock": 10}}, []))
    assert (bumped["stock"], bumped["version"]) == (14, 3)
    assert len(hints.seen) == 2
    # nothing to change: nothing written, the version stays
    assert (await items.update("a", lambda _: None))["version"] == 3


async def test_on_ferretdb_the_write_filters_on_id_alone_and_a_writer_outside_the_lease_is_logged(
    db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    # the platform's store is FerretDB: the one filter it serves from the _id index is a lone _id
    assert await answers_only_lone_id_from_index(db["items"])
    items = make_documents(db)
    await items.insert({"_id": "a", "stock": 5})

    async def sell_while_someone_else_writes(current: dict[str, Any]) -> Any:
        # a writer that ignores the lease, between this write's read and its write
        await db["items"].update_one({"_id": "a"}, {"$inc": {"version": 1, "stock": -1}})
        return {"stock": current["stock"] - 1}, []

    with caplog.at_level("ERROR", logger="emporium_kit.documents.versioned"):
        written = await items.update("a", sell_while_someone_else_writes)
    # the lease is the guarantee on FerretDB: the write lands, and the breach is reported
    assert (written["stock"], written["version"]) == (4, 3)
    assert [r.getMessage() for r in caplog.records] == ["item written outside its lease"]
    caplog.clear()
    with caplog.at_level("ERROR", logger="emporium_kit.documents.versioned"):
        await items.update("a", lambda current: ({"stock": current["stock"] - 1}, []))
    assert caplog.records == []


async def test_refusals_write_nothing(db: Db) -> None:
    items = make_documents(db, not_found=lambda: NotFound("ITEM_NOT_FOUND", "no such item", ["id"]))
    await items.insert({"_id": "a", "stock": 1})

    def refuse(_current: dict[str, Any]) -> Any:
        raise Conflict("OUT_OF_STOCK", "nothing left")

    with pytest.raises(Conflict) as refused:
        await items.update("a", refuse)
    assert refused.value.code == "OUT_OF_STOCK"
    with pytest.raises(Conflict) as stale:
        await items.update(
            "a", take_one("x"), expected_version=7, expected_version_at=["input", "version"]
        )
    assert (stale.value.code, stale.value.field) == ("VERSION_CONFLICT", ["input", "version"])
    assert "at version 1, not 7" in stale.value.message
    with pytest.raises(NotFound) as missing:
        await items.update("nope", take_one("y"))
    assert missing.value.code == "ITEM_NOT_FOUND"
    with pytest.raises(ValueError, match="version"):
        await items.update("a", lambda _: ({"version": 9}, []))
    assert await db["items"].find_one({"_id": "a"}) == {"_id": "a", "stock": 1, "version": 1}
    # a document written before it had a version starts counting at 1
    await db["items"].insert_one({"_id": "old", "stock": 2})
    assert (await items.update("old", take_one("z")))["version"] == 1


async def test_a_writer_whose_lease_ran_out_writes_nothing(db: Db) -> None:
    skew = 0.0
    config = LeaseConfig(ttl_s=10, margin_s=3)
    leases = Leases(Collection(db["locks"]), config, monotonic=lambda: time.monotonic() + skew)
    items = Documents(db["items"], leases=leases)
    await items.insert({"_id": "a", "stock": 3})

    def stall(_current: dict[str, Any]) -> Any:
        nonlocal skew
        skew += 8  # the holder stalled: 10 s TTL minus the 3 s margin have passed
        return {"stock": 0}, []

    with pytest.raises(LeaseExpired):
        await items.update("a", stall)
    assert (await db["items"].find_one({"_id": "a"}))["stock"] == 3


async def test_the_relay_lock_is_the_document_lease(db: Db) -> None:
    items = make_documents(db, busy=lambda: Conflict("ITEM_BUSY", "busy"))
    relay_lock = document_lock(items)
    quick = make_documents(db, LeaseConfig(ttl_s=10, margin_s=3, wait_s=0.3))
    async with relay_lock("items", "a"):
        with pytest.raises(Conflict) as busy:
            await quick.update("a", take_one("x"))
        assert busy.value.code == "LEASE_BUSY"
        async with relay_lock("seed_batches", "a"):  # not an aggregate: no lock
            pass


async def test_renewals_keep_a_long_hold(db: Db) -> None:
    config = LeaseConfig(ttl_s=3.0, margin_s=0.8, wait_s=0.2)
    holder = Leases(Collection(db["locks"]), config)
    other = Leases(Collection(db["locks"]), config)
    async with holder.hold("long") as lease:
        ends = time.monotonic() + 2 * config.ttl_s
        while time.monotonic() < ends:
            with pytest.raises(Conflict):
                async with other.hold("long"):
                    pass
            assert lease.valid
    async with other.hold("long"):
        pass


@dataclass
class Race:
    """Many takers of one lease: the winner keeps it until every other taker gave up."""

    takers: int
    winners: list[str] = field(default_factory=list)
    given_up: int = 0
    settled: asyncio.Event = field(default_factory=asyncio.Event)

    def lost(self) -> None:
        self.given_up += 1
        if self.given_up == self.takers - 1:
            self.settled.set()


async def _take(
    client: AsyncMongoClient[dict[str, Any]], database: str, name: str, race: Race
) -> None:
    leases = Leases(
        Collection(client[database]["locks"]), LeaseConfig(ttl_s=30, margin_s=10, wait_s=1.0)
    )
    try:
        async with leases.hold(name) as lease:
            race.winners.append(lease.token)
            async with asyncio.timeout(60):
                await race.settled.wait()
    except Conflict:
        race.lost()


async def test_takers_of_one_expired_lease_exactly_one_wins(platform: Any, db: Db) -> None:
    clients = [AsyncMongoClient(platform.mongo_url, tz_aware=True) for _ in range(4)]
    try:
        for _round in range(3):
            name = f"hot-{ULID()}"
            expired = utcnow() - timedelta(seconds=5)
            await db["locks"].insert_one({"_id": name, "token": "dead", "expires_at": expired})
            race = Race(takers=16)
            await asyncio.gather(*(_take(clients[n % 4], db.name, name, race) for n in range(16)))
            assert len(race.winners) == 1
            assert race.given_up == 15
    finally:
        for client in clients:
            await client.close()


async def _check_exact(db: Db, doc_id: str, start: int, acked: list[str]) -> dict[str, Any]:
    doc = await db["items"].find_one({"_id": doc_id})
    assert doc is not None
    applied: list[str] = doc["applied"]
    assert len(set(applied)) == len(applied), "an operation was applied twice"
    assert set(acked) <= set(applied), "an acknowledged write was lost"
    assert doc["stock"] == start - len(applied)
    assert doc["version"] == 1 + len(applied)
    return doc


async def test_fifty_writers_on_independent_clients_lose_nothing(platform: Any, db: Db) -> None:
    await db["items"].insert_one({"_id": "hot", "stock": 1000, "applied": [], "version": 1})
    clients = [AsyncMongoClient(platform.mongo_url, tz_aware=True) for _ in range(5)]
    acked: list[str] = []
    config = LeaseConfig(ttl_s=10, margin_s=3, wait_s=60)
    try:
        instances = [make_documents(client[db.name], config) for client in clients]

        async def writer(n: int) -> None:
            for op in range(10):
                op_id = f"w{n}-{op}"
                await instances[n % 5].update("hot", take_one(op_id))
                acked.append(op_id)

        await asyncio.gather(*(writer(n) for n in range(50)))
    finally:
        for client in clients:
            await client.close()
    assert len(acked) == 500
    doc = await _check_exact(db, "hot", 1000, acked)
    assert doc["stock"] == 500


def _spawn(spec: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), orjson.dumps(spec).decode()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(process: subprocess.Popen[str], timeout_s: float) -> dict[str, Any]:
    out, err = process.communicate(timeout=timeout_s)
    assert process.returncode == 0, err[-3000:]
    return orjson.loads(out.strip().splitlines()[-1])


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _spec(platform: Any, db: Db, **overrides: Any) -> dict[str, Any]:
    return {
        "mongo_url": platform.mongo_url,
        "database": db.name,
        "collection": "items",
        "doc_id": "hot",
        "ttl_s": 10.0,
        "margin_s": 3.0,
        "wait_s": 30.0,
        "deadline_s": 180.0,
        **overrides,
    }


async def test_writers_in_three_processes_lose_nothing(
    platform: Any, db: Db, processes: list[subprocess.Popen[str]]
) -> None:
    await db["items"].insert_one({"_id": "hot", "stock": 1000, "applied": [], "version": 1})
    for n, writers in enumerate((17, 17, 16)):
        spec = _spec(platform, db, name=f"p{n}", writers=writers, clients=2, ops=10)
        processes.append(_spawn(spec))
    results = [await asyncio.to_thread(_result, p, 240) for p in processes]
    acked = [op for result in results for op in result["acked"]]
    assert len(acked) == 500
    doc = await _check_exact(db, "hot", 1000, acked)
    assert doc["stock"] == 500


async def test_crashed_holders_are_taken_over_and_nothing_is_lost(
    platform: Any, db: Db, processes: list[subprocess.Popen[str]]
) -> None:
    """A short TTL, and three times a process takes the lease and dies holding it while
    writers in two other processes keep going: every takeover must leave one holder."""
    await db["items"].insert_one({"_id": "hot", "stock": 500, "applied": [], "version": 1})
    short = {"ttl_s": 5.0, "margin_s": 2.0}
    writers = [
        _spawn(_spec(platform, db, name=f"p{n}", writers=15, clients=2, ops=5, **short))
        for n in range(2)
    ]
    processes.extend(writers)
    crashes = 0
    for _ in range(3):
        crasher = _spawn(_spec(platform, db, crash=True, **short))
        processes.append(crasher)
        out, err = await asyncio.to_thread(crasher.communicate, None, 60)
        assert out.strip() == "held", err[-3000:]
        crashes += 1
    results = [await asyncio.to_thread(_result, p, 240) for p in writers]
    acked = [op for result in results for op in result["acked"]]
    assert crashes == 3
    assert len(acked) == 150
    # the writers may finish before the last dead holder's lease expires: one more write
    # needs that lease, so it must take it over too
    last = make_documents(db, LeaseConfig(ttl_s=5.0, margin_s=2.0, wait_s=60))
    await last.update("hot", take_one("after"))
    doc = await _check_exact(db, "hot", 500, [*acked, "after"])
    assert doc["stock"] == 349
    # the crashed leases were taken over: takeover claims name each dead instance
    takeovers = await db["locks"].count_documents({"lease": "items:hot", "released": False})
    assert takeovers >= 3


async def test_more_writers_than_pooled_connections_finish_or_fail_cleanly(
    platform: Any, db: Db
) -> None:
    """A pool of five connections and sixty concurrent guarded writers, each on its own
    document: the pool runs dry, and each write is applied or refused with a retryable
    error, the counts are exact, and FerretDB still answers afterwards."""
    docs = [f"d{n}" for n in range(60)]
    await db["items"].insert_many(
        [{"_id": d, "stock": 1000, "applied": [], "version": 1} for d in docs]
    )
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        platform.mongo_url, tz_aware=True, maxPoolSize=5, waitQueueTimeoutMS=50
    )
    mongo = Dependency("mongo", timeout_s=10.0, fail_max=1000, saturated=(WaitQueueTimeoutError,))
    acked: dict[str, list[str]] = {d: [] for d in docs}
    refused: list[str] = []
    ambiguous = 0
    try:
        leases = Leases(
            Collection(client[db.name]["locks"], mongo.guard),
            LeaseConfig(ttl_s=2, margin_s=0.6, wait_s=30),
        )
        items = Documents(client[db.name]["items"], mongo.guard, leases=leases)

        async def writer(n: int) -> None:
            nonlocal ambiguous
            doc_id = docs[n]
            for op in range(5):
                op_id = f"w{n}-{op}"
                try:
                    await items.update(doc_id, take_one(op_id))
                except DependencyUnavailable as exc:
                    refused.append(exc.code)
                    # only a timeout may have been applied after all: a saturated call
                    # never left the process
                    ambiguous += exc.code == "DEPENDENCY_TIMEOUT"
                    continue
                acked[doc_id].append(op_id)

        await asyncio.gather(*(writer(n) for n in range(60)))
        done = sum(len(ops) for ops in acked.values())
        assert done + len(refused) == 300
        applied = 0
        for doc_id in docs:
            doc = await _check_exact(db, doc_id, 1000, acked[doc_id])
            applied += len(doc["applied"])
        assert done <= applied <= done + ambiguous
        assert "DEPENDENCY_SATURATED" in refused
        assert set(refused) <= {"DEPENDENCY_SATURATED", "DEPENDENCY_TIMEOUT"}
        # the bounded client still gets answers, and so does a fresh one
        assert await items.count({}) == 60
    finally:
        await client.close()
    async with asyncio.timeout(5):
        assert await db["items"].count_documents({}) == 60
