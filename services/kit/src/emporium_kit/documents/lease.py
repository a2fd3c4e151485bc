"""Leases: mutual exclusion per aggregate across processes, exact on FerretDB 1.24 and MongoDB.

FerretDB 1.24 applies every update as an unguarded read-modify-write (even a conditional
``find_one_and_update``), so the one atomic, contended operation it offers is an insert on a
unique ``_id``. Every contended step of this protocol is therefore such an insert into the
``locks`` collection; updates and deletes only ever touch a document its writer owns.

**Instances.** Each time a lease is held it is held as a new *instance*, named by a fresh
token (a ULID). The instances of one lease form a chain:

- the *root* document ``{_id: name, token, expires_at}`` names the first instance; it
  exists from the first acquisition until a release deletes it;
- a *claim* document ``{_id: f"{name}#{token}", lease: name, root, token: next, expires_at,
  claimed_at, released}`` names the successor of instance ``token``. Its ``_id`` makes it
  unique: an instance has at most one successor, whoever tries to add one.

The *current* instance is found by starting at the root and following claims until an
instance has none. Its holder owns the lease until the instance's ``expires_at`` (stored in
the document that created it: the root, or the claim that names it).

**Acquire.** Insert the root; on success this process holds the lease. On a duplicate key
read the chain: a current instance that is live (``expires_at`` ahead of now) means the
lease is busy, so back off (exponential, with jitter) and try again until ``wait_s`` has
passed, then raise the caller's "busy, retry" conflict. An expired current instance (its
holder crashed or stalled) is taken over by inserting the claim naming it: of any number of
takers exactly one insert succeeds, and that taker now holds a new instance. Nobody writes
the root on a takeover, so a taker that crashes between any two steps leaves nothing worse
than another expired instance, which the next taker takes over in turn.

**Hold.** The holder renews (a heartbeat every ``ttl_s / 3``) by setting ``expires_at`` on
the document that names its instance; nobody else writes that document. It renews, and it
writes its data, only while its own clock says the instance is valid for ``margin_s`` more
(``Lease.valid``, ``Lease.check()``); a holder that stalled past that point raises
:class:`LeaseExpired` instead of writing, because by then another process may have taken
over.

**Release.** Insert the claim naming the holder's own instance, as a ``released`` instance
that expires ``ttl_s`` later: this closes the instance, so no taker can take it any more. If
that insert fails, a taker already took over; the releaser touches nothing. Otherwise delete
the root by ``_id`` (only while the released instance is still valid), and the next
acquisition inserts a fresh root. A releaser that crashes before the delete leaves a
released instance that expires and is taken over like any other. Claims stay behind as the
record that closed each instance; :meth:`Leases.prune` deletes them once they are
``claim_retention_s`` old and their chain is gone.

**What "exact" rests on.** Every contended transition is an atomic insert, so two
processes can never both take one instance. Time enters only through expiry, as in any
lease: the protocol assumes that the processes' clocks agree within ``margin_s`` and that a
holder's write lands within ``margin_s`` of being sent (keep it above the Mongo timeout,
which bounds how long a call may take). A taker whose own reads of the chain took longer
than ``margin_s`` hands its new instance straight on instead of using it.

Inside one process the holders of one lease name queue on an ``asyncio.Lock`` first, so only
one coroutine per process contends in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError
from ulid import ULID

from emporium_kit.documents.collection import Collection, Doc
from emporium_kit.errors import Conflict, DomainError
from emporium_kit.settings import ServiceSettings

log = logging.getLogger(__name__)

LOCKS = "locks"

Refusal = Callable[[], DomainError]


class LeaseExpired(Conflict):
    """The holder's lease ran out before it wrote: nothing was written, the caller retries."""

    def __init__(self) -> None:
        super().__init__("LEASE_EXPIRED", "the change took too long and was abandoned; retry", None)


def _busy() -> DomainError:
    return Conflict("LEASE_BUSY", "this is being changed by another request; retry")


@dataclass(frozen=True, slots=True)
class LeaseConfig:
    """``ttl_s``: how long an instance lives without renewal; ``wait_s``: how long
    :meth:`Leases.hold` waits for a busy lease; ``margin_s``: the validity a holder keeps in
    reserve (clock skew plus the time a write may take to land); ``claim_retention_s``: the
    age after which :meth:`Leases.prune` removes claims of finished chains."""

    ttl_s: float = 30.0
    wait_s: float = 5.0
    margin_s: float = 10.0
    claim_retention_s: float = 3600.0
    first_backoff_s: float = 0.005
    max_backoff_s: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.margin_s < self.ttl_s / 2:
            raise ValueError("the lease margin must be positive and under half the TTL")
        if self.wait_s <= 0:
            raise ValueError("the lease wait must be positive")
        if self.claim_retention_s < self.ttl_s + self.wait_s:
            raise ValueError("lease claims must be kept longer than a TTL plus the wait")

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> LeaseConfig:
        return cls(
            ttl_s=settings.lease_ttl_s,
            wait_s=settings.lease_wait_s,
            margin_s=settings.lease_margin_s,
            claim_retention_s=settings.lease_claim_retention_s,
        )


def utcnow() -> datetime:
    """UTC now at millisecond precision, what a BSON date stores."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _claim_id(name: str, token: str) -> str:
    return f"{name}#{token}"


class Lease:
    """A held lease instance. ``valid`` while this process may still act under it."""

    def __init__(
        self,
        *,
        name: str,
        token: str,
        root: str,
        expiry_id: str,
        valid_until: float,
        margin_s: float,
        monotonic: Callable[[], float],
    ) -> None:
        self.name = name
        self.token = token
        self.root = root
        self.expiry_id = expiry_id  # the document holding this instance's expires_at
        self.valid_until = valid_until  # monotonic; the instance expires then
        self.lost = False
        self.stopped = asyncio.Event()
        self._margin_s = margin_s
        self._monotonic = monotonic

    @property
    def remaining_s(self) -> float:
        """Seconds this holder may still act (the margin already subtracted)."""
        return self.valid_until - self._margin_s - self._monotonic()

    @property
    def valid(self) -> bool:
        return not self.lost and self.remaining_s > 0

    def check(self) -> None:
        """Raise :class:`LeaseExpired` unless the lease is still valid: call it right
        before each write made under the lease."""
        if not self.valid:
            raise LeaseExpired()


@dataclass(frozen=True, slots=True)
class _Instance:
    token: str
    expires_at: datetime
    root: str


class Leases:
    """Leases kept in one ``locks`` collection (see the module doc for the protocol).

    ``Leases(locks, config)``; ``async with leases.hold(name, busy=...) as lease:`` holds
    ``name`` for the block. ``busy`` builds the error raised when the lease stays taken for
    ``config.wait_s``.
    """

    def __init__(
        self,
        locks: Collection,
        config: LeaseConfig | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.locks = locks
        self.config = config or LeaseConfig()
        self._clock = clock
        self._monotonic = monotonic
        self._local: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, name: str, *, busy: Refusal | None = None) -> AsyncIterator[Lease]:
        refuse = busy or _busy
        deadline = self._monotonic() + self.config.wait_s
        local = self._enter(name)
        try:
            try:
                async with asyncio.timeout(self.config.wait_s):
                    await local.acquire()
            except TimeoutError:
                raise refuse() from None
            try:
                lease = await self._acquire(name, refuse, deadline)
                renewing = asyncio.create_task(self._renew(lease), name=f"lease-renew {name}")
                try:
                    yield lease
                finally:
                    # a cancelled request still releases: the next holder need not wait a TTL
                    await asyncio.shield(self._finish(lease, renewing))
            finally:
                local.release()
        finally:
            self._leave(name)

    def _enter(self, name: str) -> asyncio.Lock:
        lock, users = self._local.get(name) or (asyncio.Lock(), 0)
        self._local[name] = (lock, users + 1)
        return lock

    def _leave(self, name: str) -> None:
        lock, users = self._local[name]
        if users == 1:
            del self._local[name]
        else:
            self._local[name] = (lock, users - 1)

    def _lease(self, name: str, token: str, *, root: str, expiry_id: str, issued: float) -> Lease:
        return Lease(
            name=name,
            token=token,
            root=root,
            expiry_id=expiry_id,
            valid_until=issued + self.config.ttl_s,
            margin_s=self.config.margin_s,
            monotonic=self._monotonic,
        )

    def _expiry(self) -> datetime:
        return self._clock() + timedelta(seconds=self.config.ttl_s)

    async def _acquire(self, name: str, refuse: Refusal, deadline: float) -> Lease:
        backoff = self.config.first_backoff_s
        while True:
            started = self._monotonic()
            token = str(ULID())
            try:
                await self.locks.insert_one(
                    {"_id": name, "token": token, "expires_at": self._expiry()}
                )
            except DuplicateKeyError:
                pass
            else:
                return self._lease(name, token, root=token, expiry_id=name, issued=started)
            current = await self._current(name)
            if current is not None and current.expires_at <= self._clock():
                taken = await self._take(name, current, started)
                if taken is not None:
                    return taken
            elif current is None and self._monotonic() < deadline:
                continue  # released in between: insert again at once
            if self._monotonic() + backoff > deadline:
                raise refuse()
            await asyncio.sleep(backoff * (0.5 + random.random() / 2))
            backoff = min(backoff * 2, self.config.max_backoff_s)

    async def _current(self, name: str) -> _Instance | None:
        """The chain's current instance, or ``None`` when the lease is free."""
        root = await self.locks.get(name)
        if root is None:
            return None
        instance = _Instance(root["token"], _utc(root["expires_at"]), root["token"])
        while True:
            claim = await self.locks.get(_claim_id(name, instance.token))
            if claim is None:
                return instance
            instance = _Instance(claim["token"], _utc(claim["expires_at"]), instance.root)

    async def _take(self, name: str, current: _Instance, started: float) -> Lease | None:
        """Claim the expired ``current`` instance; ``None`` when another taker was first."""
        token = str(ULID())
        issued = self._monotonic()
        try:
            await self.locks.insert_one(self._claim(name, current, token, self._expiry()))
        except DuplicateKeyError:
            return None
        if self._monotonic() - started >= self.config.margin_s:
            # The reads behind this takeover are older than the margin: the chain may have
            # been released and started afresh meanwhile. Hand the instance on, expired.
            await self._close(name, current.root, token, expires_at=self._clock())
            return None
        claim_id = _claim_id(name, current.token)
        return self._lease(name, token, root=current.root, expiry_id=claim_id, issued=issued)

    def _claim(
        self,
        name: str,
        closed: _Instance,
        token: str,
        expires_at: datetime,
        *,
        released: bool = False,
    ) -> Doc:
        return {
            "_id": _claim_id(name, closed.token),
            "lease": name,
            "root": closed.root,
            "token": token,
            "expires_at": expires_at,
            "claimed_at": self._clock(),
            "released": released,
        }

    async def _close(self, name: str, root: str, token: str, *, expires_at: datetime) -> bool:
        """Close instance ``token`` by naming a released successor; ``False`` when a taker
        already named one."""
        mine = _Instance(token, expires_at, root)
        try:
            await self.locks.insert_one(
                self._claim(name, mine, str(ULID()), expires_at, released=True)
            )
        except DuplicateKeyError:
            return False
        return True

    async def _renew(self, lease: Lease) -> None:
        every = self.config.ttl_s / 3
        while True:
            try:
                async with asyncio.timeout(every):
                    await lease.stopped.wait()
                return
            except TimeoutError:
                pass
            if not lease.valid:
                return  # too late to renew safely; the holder fails its next check
            issued = self._monotonic()
            try:
                kept = await self.locks.update_owned(
                    lease.expiry_id, {"$set": {"expires_at": self._expiry()}}
                )
            except Exception as exc:
                log.warning(
                    "lease renewal failed; retrying while the lease is valid",
                    extra={"lease": lease.name, "error": repr(exc)},
                )
                continue
            if not kept:
                lease.lost = True
                return
            lease.valid_until = issued + self.config.ttl_s

    async def _finish(self, lease: Lease, renewing: asyncio.Task[None]) -> None:
        lease.stopped.set()
        await renewing  # a renewal in flight lands before the release, never after it
        try:
            await self._release(lease)
        except Exception as exc:
            log.warning(
                "lease release failed; it lapses after its TTL",
                extra={"lease": lease.name, "error": repr(exc)},
            )

    async def _release(self, lease: Lease) -> None:
        started = self._monotonic()
        if not await self._close(lease.name, lease.root, lease.token, expires_at=self._expiry()):
            log.warning("lease was taken over before its release", extra={"lease": lease.name})
            return
        if self._monotonic() - started < self.config.ttl_s - self.config.margin_s:
            await self.locks.delete_one({"_id": lease.name})

    async def prune(self) -> int:
        """Remove what finished leases left behind; returns how many claims were deleted.

        Run it periodically. A chain whose current instance expired more than
        ``claim_retention_s`` ago (its holder crashed and nobody needed the lease since) is
        taken over and released, which deletes its root. Then every claim older than that
        whose chain no longer exists is deleted: no acquisition can still be reading it.
        """
        cutoff = self._clock() - timedelta(seconds=self.config.claim_retention_s)
        stale = await self.locks.find({"expires_at": {"$lt": cutoff}}, {"lease": 1, "root": 1})
        for name in sorted({doc.get("lease") or doc["_id"] for doc in stale}):
            current = await self._current(name)
            if current is not None and current.expires_at < cutoff:
                with contextlib.suppress(DomainError):
                    async with self.hold(name):
                        pass
        roots: dict[str, Any] = {}
        removed = 0
        for doc in stale:
            name = doc.get("lease")
            if name is None:
                continue  # a root: its release deletes it
            if name not in roots:
                root = await self.locks.get(name, {"token": 1})
                roots[name] = root["token"] if root else None
            if roots[name] != doc["root"]:
                removed += await self.locks.delete_one({"_id": doc["_id"]})
        return removed


class LeasePruner:
    """A background worker (``start()``/``stop()``, for ``build_app(workers=...)``) running
    :meth:`Leases.prune` every ``interval_s``."""

    def __init__(self, leases: Leases, interval_s: float) -> None:
        self._leases = leases
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lease-pruner")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                removed = await self._leases.prune()
            except Exception:
                log.exception("lease pruning failed; retrying next interval")
                continue
            if removed:
                log.info("finished lease claims removed", extra={"count": removed})
