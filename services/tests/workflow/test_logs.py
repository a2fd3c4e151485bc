"""No process writes a password, a refresh token, a password-reset token or an access token to
its log: not in the client flows, and not while identity is down or never answers (when the
gateway logs the failed subgraph call). Every log file the session's processes write (gateway,
identity, catalog, the extra gateways below) is scanned for the secrets each test used."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import orjson
import pytest
from emporium_kit.testing import BlackHole
from emporium_platform.harness import GraphQLClient, Stack
from emporium_platform.processes import ServiceProcess, free_port
from nats.js.api import ConsumerConfig, DeliverPolicy

from .conftest import data, login, refresh, register, unique_email

pytestmark = pytest.mark.workflow

REQUEST_RESET = "mutation($e: String!) { requestPasswordReset(email: $e) }"
RESET = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }"
# Hive Gateway's debug record of each subgraph request
FETCH_RECORD = "[useFetchDebug] Request"
LOGIN_DOCUMENT = "mutation($input: LoginInput!) { login(input: $input) { accessToken } }"


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def passphrase() -> str:
    return f"pass {secrets.token_urlsafe(12)} phrase"


def leaks(logs: Path, *values: str) -> dict[str, list[str]]:
    """Which log files contain which of ``values``."""
    found: dict[str, list[str]] = {}
    for path in sorted(logs.glob("*.log")):
        text = path.read_text(errors="replace")
        hits = [value for value in values if value in text]
        if hits:
            found[path.name] = hits
    return found


async def reset_token(nats_url: str, user_id: str, since: datetime) -> str:
    """The token of identity's PasswordResetRequested event, as the mail service reads it."""
    nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        subscription = await nc.jetstream().pull_subscribe(
            "emporium.identity.PasswordResetRequested",
            stream="EMPORIUM_IDENTITY",
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_TIME,
                opt_start_time=since.isoformat().replace("+00:00", "Z"),
                inactive_threshold=30.0,
            ),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                messages = await subscription.fetch(20, timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            for message in messages:
                await message.ack()
                event = orjson.loads(message.data)
                if event["aggregate_id"] == user_id:
                    return str(event["data"]["token"])
        raise AssertionError("no PasswordResetRequested event for the account")
    finally:
        await nc.close()


def test_client_flows_log_no_secrets(
    gateway: GraphQLClient, identity: ServiceProcess, platform: Any, logs: Path
) -> None:
    since = datetime.now(UTC)
    password = passphrase()
    email = unique_email("logs")
    registered = register(gateway, email, password)
    session = login(gateway, email, password)
    renewed = refresh(gateway, session)
    # catalog verifies the forwarded token too
    data(gateway.run("ProductList", {"first": 1}, token=renewed.access_token))

    assert data(gateway.post(REQUEST_RESET, {"e": email})) == {"requestPasswordReset": True}
    token = asyncio.run(reset_token(platform.nats_url, registered.user_id, since))
    new_password = passphrase()
    assert data(gateway.post(RESET, {"t": token, "p": new_password})) == {"resetPassword": True}
    signed_in = login(gateway, email, new_password)
    assert data(gateway.run("Logout", {"refreshToken": signed_in.refresh_token})) == {
        "logout": True
    }

    # a GET carries its document and variables in the query string, which access logs record
    gets_before = identity.log_text().count('"GET /graphql')
    probe = secrets.token_urlsafe(16)
    httpx.get(
        identity.graphql_url,
        params={
            "query": LOGIN_DOCUMENT,
            "variables": json.dumps({"input": {"email": email, "password": probe}}),
        },
        timeout=10,
    )
    wait_for(
        lambda: identity.log_text().count('"GET /graphql') > gets_before,
        10,
        "identity's access log line for the GET",
    )

    used = [password, new_password, token, probe]
    for account in (registered, session, renewed, signed_in):
        used += [account.refresh_token, account.access_token]
    assert leaks(logs, *used) == {}


@pytest.fixture
def identity_unavailable(stack: Stack) -> Iterator[list[GraphQLClient]]:
    """Two gateways at debug level whose identity fails: one whose identity is down (nothing
    listens on its port), one whose identity accepts the connection and never answers (the
    gateway times out)."""
    hole = BlackHole()
    urls = {
        "gateway-identity-down": f"http://127.0.0.1:{free_port()}/graphql",
        "gateway-identity-hangs": f"{hole.url}/graphql",
    }
    gateways: list[GraphQLClient] = []
    try:
        for name, url in urls.items():
            gateways.append(
                stack.gateway(
                    name,
                    EMPORIUM_SUBGRAPH_IDENTITY_URL=url,
                    EMPORIUM_SUBGRAPH_TIMEOUT_MS="500",
                    EMPORIUM_LOG_LEVEL="debug",
                )
            )
        yield gateways
    finally:
        for gateway in gateways:
            gateway.close()
        hole.close()


def test_identity_failures_log_no_secrets(
    identity_unavailable: list[GraphQLClient], logs: Path
) -> None:
    used: list[str] = []
    for gateway in identity_unavailable:
        password, new_password, refresh_token, token = (
            passphrase(),
            passphrase(),
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
        )
        used += [password, new_password, refresh_token, token]
        fetches_before = gateway.process.log_text().count(FETCH_RECORD)
        calls = [
            gateway.run("Login", {"input": {"email": unique_email(), "password": password}}),
            gateway.run("Register", {"input": {"email": unique_email(), "password": password}}),
            gateway.run("RefreshToken", {"refreshToken": refresh_token}),
            gateway.post(RESET, {"t": token, "p": new_password}),
        ]
        for response in calls:
            body = response.json()
            assert body.get("data") is None, body
            assert body["errors"][0]["extensions"]["code"] in (
                "GATEWAY_TIMEOUT",
                "INTERNAL_SERVER_ERROR",
            ), body
        # the records of the calls to identity (which used to hold the request body) and of
        # their failure are written: those are the lines that must be clean
        expected = fetches_before + len(calls)
        wait_for(
            lambda gateway=gateway, expected=expected: (
                gateway.process.log_text().count(FETCH_RECORD) >= expected
            ),
            10,
            f"{gateway.process.name} to log the calls to identity",
        )
    assert leaks(logs, *used) == {}
