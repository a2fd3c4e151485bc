"""The identity database: its collections, each call behind the Mongo breaker and timeout.

``IdentityDb`` is the ``db`` the use cases take (``get_user(*, db, user_id)``), built from the
kit's :mod:`emporium_kit.documents`. Users, sessions and signing keys are
:class:`~emporium_kit.documents.Documents`: every change to one of them is one leased,
versioned single-document write (``db.users.update(user_id, change)``), exact on FerretDB
1.24, whose updates are unguarded read-modify-writes, as on MongoDB. Refresh tokens,
rotation claims and OAuth links are only inserted (the rotation claim is what makes a
refresh token single-use) and deleted; a refresh token's ``replaced_at`` is written once,
by the one caller whose rotation claim succeeded.
"""

from __future__ import annotations

from emporium_kit.clients import MongoStore
from emporium_kit.documents import (
    LOCKS,
    Collection,
    Doc,
    Documents,
    Guard,
    LeaseConfig,
    Leases,
    NotifyTarget,
    Refusal,
    unguarded,
)
from emporium_kit.errors import Conflict, NotFound
from emporium_kit.settings import ServiceSettings
from pymongo.asynchronous.database import AsyncDatabase

Db = AsyncDatabase[Doc]

USERS = "users"
SESSIONS = "sessions"
REFRESH_TOKENS = "refresh_tokens"
# one document per replaced refresh token, ``_id`` = that token's hash: the rotation claim
REFRESH_ROTATIONS = "refresh_rotations"
OAUTH_LINKS = "oauth_links"
SIGNING_KEYS = "signing_keys"


def _busy(what: str) -> Refusal:
    return lambda: Conflict(
        f"{what.upper()}_BUSY", f"The {what} is being changed by another request; try again"
    )


class IdentityDb:
    """``IdentityDb(db, guard, *, leases, notify)``: ``guard`` is the Mongo dependency's
    (none for command-line tools), ``leases`` the lease settings, ``notify`` what learns of
    every write that carries events (the outbox relay)."""

    def __init__(
        self,
        db: Db,
        guard: Guard | None = None,
        *,
        leases: LeaseConfig | None = None,
        notify: NotifyTarget | None = None,
    ) -> None:
        self.raw = db
        self.guard: Guard = guard or unguarded
        self.leases = Leases(Collection(db[LOCKS], guard), leases)
        self.users = Documents(
            db[USERS],
            guard,
            leases=self.leases,
            noun="account",
            not_found=lambda: NotFound("USER_NOT_FOUND", "No such user"),
            busy=_busy("account"),
            notify=notify,
        )
        self.sessions = Documents(
            db[SESSIONS],
            guard,
            leases=self.leases,
            noun="session",
            not_found=lambda: NotFound("SESSION_NOT_FOUND", "No such session"),
            busy=_busy("session"),
        )
        self.signing_keys = Documents(
            db[SIGNING_KEYS],
            guard,
            leases=self.leases,
            noun="signing key",
            not_found=lambda: NotFound("SIGNING_KEY_NOT_FOUND", "No such signing key"),
            busy=_busy("signing key"),
        )
        self.refresh_tokens = Collection(db[REFRESH_TOKENS], guard)
        self.refresh_rotations = Collection(db[REFRESH_ROTATIONS], guard)
        self.oauth_links = Collection(db[OAUTH_LINKS], guard)

    @classmethod
    def connect(
        cls, mongo: MongoStore, settings: ServiceSettings, *, notify: NotifyTarget | None = None
    ) -> IdentityDb:
        """The app's store: every call behind the Mongo breaker, leases from the settings."""
        return cls(
            mongo.db,
            mongo.dependency.guard,
            leases=LeaseConfig.from_settings(settings),
            notify=notify,
        )


async def ensure_indexes(*, db: IdentityDb) -> None:
    """Idempotent: the same names and keys on every start."""
    raw = db.raw
    async with db.guard():
        await raw[USERS].create_index("email", name="email_unique", unique=True)
        await raw[USERS].create_index("password_reset.token_hash", name="password_reset_token")
        await raw[USERS].create_index(
            "email_verification.token_hash", name="email_verification_token"
        )
        await raw[USERS].create_index("roles", name="roles")
        await raw[SESSIONS].create_index("user_id", name="user")
        await raw[SESSIONS].create_index("expires_at", name="expires")
        await raw[REFRESH_TOKENS].create_index("session_id", name="session")
        await raw[REFRESH_TOKENS].create_index("expires_at", name="expires")
        await raw[REFRESH_ROTATIONS].create_index("expires_at", name="expires")
        await raw[OAUTH_LINKS].create_index("user_id", name="user")
