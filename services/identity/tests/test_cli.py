"""The operational commands: create-admin, seed, rotate-keys and keys (real Mongo/NATS)."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from emporium_identity.cli import main
from emporium_identity.passwords import Passwords
from emporium_identity.settings import DEMO_SELLER_ID
from pymongo import AsyncMongoClient
from ulid import ULID

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_db(platform: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI reads its settings from the environment: point it at a throwaway database."""
    database = f"identity_cli_{str(ULID()).lower()}"
    env = {
        "EMPORIUM_MONGO_URL": platform.mongo_url,
        "EMPORIUM_MONGO_DATABASE": database,
        "EMPORIUM_REDIS_URL": platform.redis_url,
        "EMPORIUM_NATS_URL": platform.nats_url,
        "EMPORIUM_IDENTITY_REDIS_NAMESPACE": f"cli-{ULID()}",
        "EMPORIUM_IDENTITY_ARGON2_TIME_COST": "1",
        "EMPORIUM_IDENTITY_ARGON2_MEMORY_KIB": "1024",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("EMPORIUM_IDENTITY_ADMIN_PASSWORD", raising=False)
    yield database
    asyncio.run(_drop(platform.mongo_url, database))


async def _drop(url: str, database: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    try:
        await client.drop_database(database)
    finally:
        await client.close()


def _users(url: str, database: str) -> dict[str, dict[str, Any]]:
    async def read() -> dict[str, dict[str, Any]]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
        try:
            docs = await client[database]["users"].find({}).to_list()
            return {doc["email"]: doc for doc in docs}
        finally:
            await client.close()

    return asyncio.run(read())


def _verifies(stored_hash: str, password: str) -> bool:
    async def check() -> bool:
        return (await Passwords().verify(stored_hash, password)).ok

    return asyncio.run(check())


def test_create_admin_takes_the_password_from_stdin(
    cli_db: str, platform: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("an admin passphrase\n"))
    assert main(["create-admin", "--email", "Root@Example.com"]) == 0
    out = capsys.readouterr().out
    assert "created admin root@example.com" in out
    assert "passphrase" not in out
    admin = _users(platform.mongo_url, cli_db)["root@example.com"]
    assert admin["roles"] == ["customer", "admin"]
    assert admin["email_verified"] is True
    assert _verifies(admin["password_hash"], "an admin passphrase")
    assert admin["outbox"] == []  # its UserRegistered event was published

    # again, from the environment: the password changes, the account stays
    monkeypatch.setenv("EMPORIUM_IDENTITY_ADMIN_PASSWORD", "another admin passphrase")
    assert main(["create-admin", "--email", "root@example.com"]) == 0
    assert "updated admin" in capsys.readouterr().out
    again = _users(platform.mongo_url, cli_db)["root@example.com"]
    assert again["_id"] == admin["_id"]
    assert _verifies(again["password_hash"], "another admin passphrase")


def test_create_admin_refuses_a_weak_password(
    cli_db: str, platform: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("password1\n"))
    assert main(["create-admin", "--email", "weak@example.com"]) == 2
    assert "PASSWORD_TOO_SHORT" in capsys.readouterr().err
    assert _users(platform.mongo_url, cli_db) == {}


def test_seed_creates_the_demo_accounts_once(
    cli_db: str, platform: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["seed"]) == 0
    out = capsys.readouterr().out
    passwords = dict(re.findall(r"^\s+(\S+@emporium\.example)\s+(\S+)\s+roles", out, re.M))
    assert set(passwords) == {
        "admin@emporium.example",
        "seller@emporium.example",
        "customer@emporium.example",
    }
    users = _users(platform.mongo_url, cli_db)
    assert users["admin@emporium.example"]["roles"] == ["customer", "admin"]
    assert users["seller@emporium.example"]["roles"] == ["customer", "seller"]
    assert users["seller@emporium.example"]["seller_id"] == DEMO_SELLER_ID
    assert users["customer@emporium.example"]["roles"] == ["customer"]
    for email, password in passwords.items():
        assert _verifies(users[email]["password_hash"], password)

    assert main(["seed"]) == 0
    rerun = capsys.readouterr().out
    assert rerun.count("password unchanged") == 3
    assert (
        _users(platform.mongo_url, cli_db)["admin@emporium.example"]["_id"]
        == (users["admin@emporium.example"]["_id"])
    )


def test_rotate_keys_publishes_a_pending_key(
    cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["seed"]) == 0  # creates the first key
    capsys.readouterr()
    assert main(["rotate-keys"]) == 0
    assert "new signing key" in capsys.readouterr().out
    assert main(["keys"]) == 0
    states = sorted(line.split()[2] for line in capsys.readouterr().out.splitlines())
    assert states == ["pending", "signing"]
    assert main(["rotate-keys", "--immediate"]) == 0
    capsys.readouterr()
    assert main(["keys"]) == 0
    states = sorted(line.split()[2] for line in capsys.readouterr().out.splitlines())
    assert states == ["retired", "retired", "signing"]
