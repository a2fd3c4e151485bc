"""``emporium-identity``: run and operate the identity service.

::

    emporium-identity serve [--host 127.0.0.1] [--port 8001]
    emporium-identity seed [--seller-id ID] [--reset-passwords]
    emporium-identity create-admin --email EMAIL     # password: stdin or the env variable
    emporium-identity rotate-keys [--immediate]
    emporium-identity keys
    emporium-identity housekeeping
    emporium-identity event-schemas DIR
    emporium-identity dlq list|replay|discard [--consumer NAME] [--seq N]...
    emporium-identity streams ensure identity

Settings come from the environment (``EMPORIUM_*``, see ``docs/identity.md``). Passwords are
never command-line arguments (they would land in shell history and process listings):
``create-admin`` reads ``EMPORIUM_IDENTITY_ADMIN_PASSWORD`` or, without it, one line from
standard input (a hidden prompt on a terminal).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import secrets
import sys
from collections.abc import Sequence

from emporium_kit import clients
from emporium_kit.cli import add_service_commands, run_service_command
from emporium_kit.documents import LeaseConfig, document_lock
from emporium_kit.errors import DomainError
from emporium_kit.workers import drain_outbox

from emporium_identity import events, sessions
from emporium_identity.accounts import upsert_account
from emporium_identity.core import Identity
from emporium_identity.domain import Role
from emporium_identity.keys import utcnow
from emporium_identity.settings import IdentitySettings
from emporium_identity.store import IdentityDb, ensure_indexes

ADMIN_PASSWORD_ENV = "EMPORIUM_IDENTITY_ADMIN_PASSWORD"

# Demo accounts of `seed` (.example is reserved for examples: no real mailbox exists).
DEMO_ACCOUNTS = (
    ("admin@emporium.example", "Demo Admin", (Role.ADMIN,)),
    ("seller@emporium.example", "Demo Seller", (Role.SELLER,)),
    ("customer@emporium.example", "Demo Customer", ()),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emporium-identity", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    add_service_commands(commands, service="identity", events=events.identity)

    seed = commands.add_parser("seed", help="create the demo admin, seller and customer")
    seed.add_argument(
        "--seller-id", default=None, help="catalog seller of the demo seller (default: settings)"
    )
    seed.add_argument(
        "--reset-passwords",
        action="store_true",
        help="give existing demo accounts new passwords (printed once)",
    )

    admin = commands.add_parser(
        "create-admin", help=f"create an admin (password from ${ADMIN_PASSWORD_ENV} or stdin)"
    )
    admin.add_argument("--email", required=True)

    rotate = commands.add_parser("rotate-keys", help="add a new signing key; retire the old")
    rotate.add_argument(
        "--immediate",
        action="store_true",
        help="sign with the new key now instead of after the publication delay (leaked key)",
    )

    commands.add_parser("keys", help="list the signing keys and their state")
    commands.add_parser("housekeeping", help="delete expired sessions, tokens and keys")
    return parser


class _Tools:
    """The service's parts for one command, outside the app (no breaker to feed)."""

    def __init__(self, settings: IdentitySettings) -> None:
        self.settings = settings
        self.mongo = clients.mongo(settings)
        self.redis = clients.redis(settings)
        self.db = IdentityDb(self.mongo.db, leases=LeaseConfig.from_settings(settings))
        self.identity = Identity.from_settings(settings, db=self.db, redis=self.redis)

    async def close(self) -> None:
        await self.redis.close()
        await self.mongo.close()

    async def publish_outbox(self) -> None:
        """Publish the events the command wrote, so they do not wait for a running service
        (the kit's drain: until the outbox is empty or its deadline passes). Entries are
        removed at once (no settle time): the command has just written these documents."""
        print(
            await drain_outbox(
                self.settings,
                [self.db.users.raw],
                catalog=events.identity,
                document_lock=document_lock(self.db.users),
            )
        )


def _read_admin_password() -> str:
    password = os.environ.get(ADMIN_PASSWORD_ENV)
    if password:
        return password
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise SystemExit("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def _create_admin(tools: _Tools, email: str) -> int:
    password = _read_admin_password()
    await ensure_indexes(db=tools.db)
    try:
        user, created = await upsert_account(
            identity=tools.identity, email=email, password=password, roles=[Role.ADMIN]
        )
    except DomainError as exc:
        print(f"error: {exc.message} ({exc.code})", file=sys.stderr)
        return 2
    print(f"{'created' if created else 'updated'} admin {user.email} ({user.id})")
    await tools.publish_outbox()
    return 0


async def _seed(tools: _Tools, *, seller_id: str, reset_passwords: bool) -> int:
    await ensure_indexes(db=tools.db)
    await tools.identity.keys.ensure_signing_key()
    print("demo accounts (local use only; passwords are shown once):")
    for email, name, roles in DEMO_ACCOUNTS:
        existing = await tools.db.users.find_one({"email": email}, {"_id": 1})
        if existing is not None and not reset_passwords:
            print(f"  {email:<28} exists (password unchanged; --reset-passwords for a new one)")
            continue
        password = secrets.token_urlsafe(12)
        user, _ = await upsert_account(
            identity=tools.identity,
            email=email,
            password=password,
            roles=list(roles),
            seller_id=seller_id if Role.SELLER in roles else None,
            display_name=name,
        )
        extra = f"  seller {user.seller_id}" if user.seller_id else ""
        print(f"  {email:<28} {password}  roles {','.join(user.roles)}{extra}")
    await tools.publish_outbox()
    return 0


async def _rotate(tools: _Tools, *, immediate: bool) -> int:
    await tools.identity.keys.load()
    key = await tools.identity.keys.rotate(immediate=immediate)
    print(f"new signing key {key.kid}: published now, signs from {key.active_from.isoformat()}")
    for old in tools.identity.keys.keys:
        if old.kid != key.kid and old.expires_at is not None:
            print(f"  {old.kid} retires {old.retired_at}, unpublished after {old.expires_at}")
    return 0


async def _keys(tools: _Tools) -> int:
    ring = tools.identity.keys
    await ring.load()
    now = utcnow()
    for key in ring.keys:
        if key.retired_at is not None and key.retired_at <= now:
            state = "retired"
        elif key.active_from > now:
            state = "pending"
        else:
            state = "signing" if key.signs(now) else "undecryptable"
        until = f" until {key.expires_at.isoformat()}" if key.expires_at else ""
        print(f"{key.kid}  {key.alg}  {state}{until}")
    return 0


async def _run(args: argparse.Namespace, settings: IdentitySettings) -> int:
    tools = _Tools(settings)
    try:
        if args.command == "create-admin":
            return await _create_admin(tools, args.email)
        if args.command == "seed":
            return await _seed(
                tools,
                seller_id=args.seller_id or settings.identity_demo_seller_id,
                reset_passwords=args.reset_passwords,
            )
        if args.command == "rotate-keys":
            return await _rotate(tools, immediate=args.immediate)
        if args.command == "keys":
            return await _keys(tools)
        removed = await sessions.housekeeping(identity=tools.identity)
        print(f"removed {removed} expired record(s)")
        return 0
    finally:
        await tools.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = IdentitySettings()
    shared = run_service_command(
        args,
        app="emporium_identity.app",
        settings=settings,
        events=events.identity,
    )
    if shared is not None:
        return shared
    return asyncio.run(_run(args, settings))


if __name__ == "__main__":
    raise SystemExit(main())
