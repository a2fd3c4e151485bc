"""argon2id password hashing off the event loop, with a bound on concurrent hashes.

Each hash holds ``memory_kib`` of RAM and a CPU core for tens of milliseconds, so hashing runs
in worker threads (argon2-cffi releases the GIL) behind a semaphore: a burst of logins queues
instead of exhausting memory or starving the loop that serves everything else.

The parameters live in every stored hash (``$argon2id$v=19$m=...,t=...,p=...``): after a
parameter change, :meth:`Passwords.verify` reports ``needs_rehash`` on the next successful
login and the caller stores a fresh hash.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from emporium_identity.domain import new_secret, normalize_password


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    needs_rehash: bool = False


class Passwords:
    """``Passwords(time_cost=2, memory_kib=19456, parallelism=1, concurrency=2)``."""

    def __init__(
        self,
        *,
        time_cost: int = 2,
        memory_kib: int = 19_456,
        parallelism: int = 1,
        concurrency: int = 2,
    ) -> None:
        self.hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._slots = asyncio.Semaphore(concurrency)
        # Verified when the account does not exist, so a miss costs what a hit costs.
        self._dummy_hash = self.hasher.hash(new_secret())

    @property
    def parameters(self) -> str:
        """``argon2id m=19456 KiB, t=2, p=1`` (for logs and benchmarks)."""
        h = self.hasher
        return f"argon2id m={h.memory_cost} KiB, t={h.time_cost}, p={h.parallelism}"

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self.hasher.hash, normalize_password(password))

    async def verify(self, stored_hash: str | None, password: str) -> Verification:
        """Check ``password`` against ``stored_hash``; ``None`` (no account, or an account
        without a password) verifies against a dummy hash and fails."""
        candidate = normalize_password(password)
        async with self._slots:
            if stored_hash is None:
                await asyncio.to_thread(self._matches, self._dummy_hash, candidate)
                return Verification(ok=False)
            if not await asyncio.to_thread(self._matches, stored_hash, candidate):
                return Verification(ok=False)
        return Verification(ok=True, needs_rehash=self.hasher.check_needs_rehash(stored_hash))

    def _matches(self, stored_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
