"""The lease protocol against an in-memory store that behaves like FerretDB 1.24.

The fake store makes inserts atomic on ``_id`` and everything else a read-modify-write with
the event loop free to run other coroutines in between, the way FerretDB applies updates.
Every operation yields a random number of times (hypothesis picks the seed), so each example
is a different interleaving of the contenders. Time is a shared fake clock that moves on
every reading, so leases expire during a run without the test sleeping.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from emporium_kit.documents import Collection, Lease, LeaseConfig, LeaseExpired, Leases
from emporium_kit.errors import Conflict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo.errors import DuplicateKeyError

pytestmark = pytest.mark.unit

EPOCH = datetime(2030, 1, 1, tzinfo=UTC)


class Clock:
    """Fake time shared by every contender: each reading moves it on by ``tick_s``."""

    def __init__(self, tick_s: float = 0.001) -> None:
        self.now_s = 0.0
        self.tick_s = tick_s

    def monotonic(self) -> float:
        self.now_s += self.tick_s
        return self.now_s

    def wall(self) -> datetime:
        moment = EPOCH + timedelta(seconds=self.monotonic())
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class CrashedError(Exception):
    """Raised by every call of a process that has died."""


class FakeStore:
    """The ``locks`` collection: atomic inserts, unguarded read-modify-write updates."""

    def __init__(self, rng: random.Random) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.rng = rng

    async def pause(self) -> None:
        for _ in range(self.rng.randint(0, 3)):
            await asyncio.sleep(0)


class FakeLocks(Collection):
    """One process's view of the shared store; ``crash()`` makes every later call fail."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.dead = False

    @property
    def name(self) -> str:
        return "locks"

    async def _enter(self) -> None:
        await self.store.pause()
        if self.dead:
            raise CrashedError

    async def get(self, doc_id: Any, projection: Mapping[str, Any] | None = None) -> Any:
        await self._enter()
        doc = self.store.docs.get(doc_id)
        return dict(doc) if doc is not None else None

    async def find(self, flt: Mapping[str, Any], *_: Any, **__: Any) -> list[dict[str, Any]]:
        await self._enter()
        cutoff = flt["expires_at"]["$lt"]
        return [dict(d) for d in self.store.docs.values() if d["expires_at"] < cutoff]

    async def insert_one(self, doc: Mapping[str, Any]) -> None:
        await self._enter()
        if doc["_id"] in self.store.docs:
            raise DuplicateKeyError("duplicate _id")
        self.store.docs[doc["_id"]] = dict(doc)

    async def update_owned(self, doc_id: Any, update: Mapping[str, Any]) -> bool:
        await self._enter()
        doc = self.store.docs.get(doc_id)
        if doc is None:
            return False
        written = {**doc, **update["$set"]}
        await self.store.pause()  # FerretDB: read, compute, then write back the whole row
        if doc_id in self.store.docs:
            self.store.docs[doc_id] = written
        return True

    async def delete_one(self, flt: Mapping[str, Any]) -> int:
        await self._enter()
        return 1 if self.store.docs.pop(flt["_id"], None) is not None else 0


def config(**overrides: float) -> LeaseConfig:
    values = {
        "ttl_s": 1.0,
        "margin_s": 0.2,
        "wait_s": 0.5,
        "claim_retention_s": 10.0,
        "first_backoff_s": 0.0001,
        "max_backoff_s": 0.0005,
    }
    return LeaseConfig(**{**values, **overrides})


def contender(store: FakeStore, clock: Clock, **overrides: float) -> tuple[Leases, FakeLocks]:
    locks = FakeLocks(store)
    leases = Leases(locks, config(**overrides), clock=clock.wall, monotonic=clock.monotonic)
    return leases, locks


def busy() -> Conflict:
    return Conflict("BUSY", "busy")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(takers=st.integers(min_value=2, max_value=12), seed=st.integers(0, 2**32 - 1))
def test_many_takers_of_one_expired_lease_exactly_one_wins(takers: int, seed: int) -> None:
    async def scenario() -> None:
        store, clock = FakeStore(random.Random(seed)), Clock()
        # a holder that died without releasing
        store.docs["hot"] = {"_id": "hot", "token": "dead", "expires_at": clock.wall()}
        winners: list[str] = []
        given_up = 0
        done, progress = asyncio.Event(), asyncio.Event()

        async def take() -> None:
            nonlocal given_up
            leases, _ = contender(store, clock)
            try:
                async with leases.hold("hot", busy=busy) as lease:
                    winners.append(lease.token)
                    progress.set()
                    await done.wait()
            except Conflict:
                given_up += 1
                progress.set()

        tasks = [asyncio.create_task(take()) for _ in range(takers)]
        while given_up < takers - 1 and len(winners) < 2:
            progress.clear()
            await progress.wait()
        assert len(winners) == 1
        done.set()
        await asyncio.gather(*tasks)

    asyncio.run(scenario())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    workers=st.integers(min_value=2, max_value=6),
    seed=st.integers(0, 2**32 - 1),
    crash_rate=st.sampled_from([0.0, 0.2, 0.5]),
)
def test_holders_never_overlap_while_holders_crash_and_leases_are_taken_over(
    workers: int, seed: int, crash_rate: float
) -> None:
    """Each act under a lease is recorded with its instance; once a later instance has
    acted, no earlier one may act again. Some holders die mid-hold (their store calls fail
    from then on, so they neither renew nor release) and their leases are taken over."""

    async def scenario() -> None:
        rng = random.Random(seed)
        store, clock = FakeStore(rng), Clock()
        acts: list[str] = []

        async def work(n: int) -> None:
            for _ in range(4):
                leases, locks = contender(store, clock, wait_s=5.0)
                try:
                    async with leases.hold("hot", busy=busy) as lease:
                        for _ in range(rng.randint(1, 30)):
                            await asyncio.sleep(0)
                            lease.check()
                            acts.append(lease.token)
                        if rng.random() < crash_rate:
                            locks.dead = True
                            raise CrashedError
                except (CrashedError, LeaseExpired, Conflict):
                    continue

        await asyncio.gather(*(work(n) for n in range(workers)))
        finished: set[str] = set()
        previous = None
        for token in acts:
            if token != previous:
                assert token not in finished, "an instance acted again after another one"
                if previous is not None:
                    finished.add(previous)
                previous = token

    asyncio.run(scenario())


async def test_a_released_lease_is_free_and_its_root_is_gone() -> None:
    store, clock = FakeStore(random.Random(1)), Clock()
    leases, _ = contender(store, clock)
    async with leases.hold("a") as lease:
        assert lease.valid
        assert store.docs["a"]["token"] == lease.token
    assert "a" not in store.docs
    closing = store.docs[f"a#{lease.token}"]
    assert closing["released"] is True
    async with leases.hold("a") as again:
        assert again.token != lease.token


async def test_a_taker_that_died_before_acting_is_taken_over_in_turn() -> None:
    """Crash points of a takeover leave only expired instances; the chain is followed."""
    store, clock = FakeStore(random.Random(2)), Clock()
    past = clock.wall()
    store.docs["a"] = {"_id": "a", "token": "t0", "expires_at": past}
    store.docs["a#t0"] = {
        "_id": "a#t0",
        "lease": "a",
        "root": "t0",
        "token": "t1",
        "expires_at": past,
        "released": False,
    }
    leases, _ = contender(store, clock)
    async with leases.hold("a") as lease:
        assert lease.root == "t0"
        assert store.docs["a#t1"]["token"] == lease.token
    assert "a" not in store.docs


async def test_a_live_release_marker_keeps_others_waiting_until_it_expires() -> None:
    """A releaser that died between closing its instance and deleting the root blocks the
    lease for one TTL, then the lease is taken over."""
    store, clock = FakeStore(random.Random(3)), Clock(tick_s=0.0005)
    now = clock.wall()
    store.docs["a"] = {"_id": "a", "token": "t0", "expires_at": now + timedelta(seconds=5)}
    store.docs["a#t0"] = {
        "_id": "a#t0",
        "lease": "a",
        "root": "t0",
        "token": "r0",
        "expires_at": now + timedelta(seconds=0.3),
        "released": True,
    }
    leases, _ = contender(store, clock, wait_s=5.0)
    async with leases.hold("a") as lease:
        assert clock.wall() >= now + timedelta(seconds=0.3)
        assert store.docs["a#r0"]["token"] == lease.token


async def test_a_holder_past_its_validity_refuses_to_act() -> None:
    store, clock = FakeStore(random.Random(4)), Clock()
    leases, _ = contender(store, clock)
    async with leases.hold("a") as lease:
        clock.now_s += 0.85  # ttl 1 s minus the 0.2 s margin has passed
        assert not lease.valid
        with pytest.raises(LeaseExpired):
            lease.check()


class CountingLocks(FakeLocks):
    def __init__(self, store: FakeStore) -> None:
        super().__init__(store)
        self.root_inserts = 0

    async def insert_one(self, doc: Mapping[str, Any]) -> None:
        if "#" not in doc["_id"]:
            self.root_inserts += 1
        await super().insert_one(doc)


async def test_one_process_contends_with_one_coroutine_per_name() -> None:
    store, clock = FakeStore(random.Random(5)), Clock()
    locks = CountingLocks(store)
    leases = Leases(locks, config(wait_s=5.0), clock=clock.wall, monotonic=clock.monotonic)
    holders: list[Lease] = []

    async def hold() -> None:
        async with leases.hold("a") as lease:
            holders.append(lease)
            await asyncio.sleep(0)

    await asyncio.gather(*(hold() for _ in range(10)))
    # the coroutines queued in the process: each root insert succeeded at the first try
    assert locks.root_inserts == 10
    assert len({h.token for h in holders}) == 10


async def test_prune_removes_finished_chains_and_takes_over_long_dead_ones() -> None:
    store, clock = FakeStore(random.Random(6)), Clock()
    leases, _ = contender(store, clock)
    for _ in range(3):
        async with leases.hold("done"):
            pass
    dead_since = clock.wall()
    store.docs["dead"] = {"_id": "dead", "token": "d0", "expires_at": dead_since}
    clock.now_s += 60  # past the 10 s retention
    async with leases.hold("live") as live:
        assert await leases.prune() == 3
        assert "dead" not in store.docs  # taken over and released
        assert store.docs["live"]["token"] == live.token
    leftovers = {doc.get("lease") for doc in store.docs.values()}
    assert "done" not in leftovers
