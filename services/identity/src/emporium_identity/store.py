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

from emporium_kit.documents import Doc, Refusal, ServiceDb
from emporium_kit.errors import Conflict, NotFound
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


class IdentityDb(ServiceDb):
    def declare(self) -> None:
        self.users = self.aggregates(
            USERS,
            noun="account",
            not_found=lambda: NotFound("USER_NOT_FOUND", "No such user"),
            busy=_busy("account"),
        )
        self.sessions = self.aggregates(
            SESSIONS,
            noun="session",
            not_found=lambda: NotFound("SESSION_NOT_FOUND", "No such session"),
            busy=_busy("session"),
            relay=False,
        )
        self.signing_keys = self.aggregates(
            SIGNING_KEYS,
            noun="signing key",
            not_found=lambda: NotFound("SIGNING_KEY_NOT_FOUND", "No such signing key"),
            busy=_busy("signing key"),
            relay=False,
        )
        self.refresh_tokens = self.collection(REFRESH_TOKENS)
        self.refresh_rotations = self.collection(REFRESH_ROTATIONS)
        self.oauth_links = self.collection(OAUTH_LINKS)


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
