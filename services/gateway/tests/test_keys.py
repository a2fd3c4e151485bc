"""The gateway's copy of identity's signing keys: tokens naming made-up key ids never cost a
genuine token its key, a JWKS outage keeps the known keys, rotated-in keys are accepted and
withdrawn ones refused, and the JWKS endpoint is fetched a bounded number of times.

Each test runs its own gateway against its own JWKS server, with short refresh intervals
(``EMPORIUM_JWKS_REFRESH_MS``, ``EMPORIUM_JWKS_REFETCH_MIN_INTERVAL_MS``)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from emporium_kit.testing import JwksServer, TokenMinter
from emporium_platform.harness import GraphQLClient, Stack

from .conftest import wait_for

pytestmark = pytest.mark.workflow

PROBE = "{ __typename }"
REFRESH_S = 1.0
REFETCH_S = 0.5


@pytest.fixture
def identity_keys() -> Iterator[tuple[TokenMinter, JwksServer]]:
    """A signing key and the JWKS publishing it, for one test's gateway only."""
    minter = TokenMinter(alg="ES256")
    server = JwksServer(minter)
    yield minter, server
    server.close()


def keyed_gateway(
    stack: Stack,
    jwks: JwksServer,
    name: str,
    refresh_s: float = REFRESH_S,
    refetch_s: float = REFETCH_S,
) -> GraphQLClient:
    return stack.gateway(
        name,
        EMPORIUM_JWKS_URL=jwks.url,
        EMPORIUM_JWKS_REFRESH_MS=str(int(refresh_s * 1000)),
        EMPORIUM_JWKS_REFETCH_MIN_INTERVAL_MS=str(int(refetch_s * 1000)),
    )


def status(gateway: GraphQLClient, token: str, http: httpx.Client | None = None) -> int:
    client = http or gateway.http
    response = client.post(
        gateway.url, json={"query": PROBE}, headers={"authorization": f"Bearer {token}"}
    )
    return response.status_code


def made_up_kid(minter: TokenMinter) -> str:
    """A well-signed token naming a key id nobody published."""
    return minter.mint("mallory", ["admin"], header={"kid": uuid.uuid4().hex})


def test_a_spray_of_made_up_kids_never_refuses_a_genuine_token(
    stack: Stack,
    identity_keys: tuple[TokenMinter, JwksServer],
) -> None:
    """Many made-up kids a second, for six refresh periods: every genuine token passes, every
    made-up one is refused, and the JWKS is fetched at most once per refresh period plus once
    per refetch interval."""
    minter, jwks = identity_keys
    gateway = keyed_gateway(stack, jwks, "gateway-keys-spray")
    genuine = minter.mint("alice", ["customer"])
    assert status(gateway, genuine) == 200
    fetches_before = jwks.requests

    stop = threading.Event()
    sprayed: Counter[int] = Counter()
    lock = threading.Lock()

    def spray() -> None:
        with httpx.Client(timeout=10.0) as http:
            while not stop.is_set():
                code = status(gateway, made_up_kid(minter), http)
                with lock:
                    sprayed[code] += 1

    sprayers = [threading.Thread(target=spray) for _ in range(4)]
    started = time.monotonic()
    for thread in sprayers:
        thread.start()
    answered: Counter[int] = Counter()
    try:
        while time.monotonic() - started < 6 * REFRESH_S:
            answered[status(gateway, genuine)] += 1
    finally:
        stop.set()
        for thread in sprayers:
            thread.join()
    elapsed = time.monotonic() - started

    assert set(answered) == {200}, answered
    assert set(sprayed) == {401}, sprayed
    assert sprayed.total() >= 10 * elapsed, f"only {sprayed.total()} made-up kids sent"
    fetches = jwks.requests - fetches_before
    assert fetches <= elapsed / REFRESH_S + elapsed / REFETCH_S + 2, fetches


def test_a_jwks_outage_keeps_the_known_keys(
    stack: Stack,
    identity_keys: tuple[TokenMinter, JwksServer],
) -> None:
    minter, jwks = identity_keys
    gateway = keyed_gateway(stack, jwks, "gateway-keys-outage")
    assert status(gateway, minter.mint("alice", ["customer"])) == 200

    jwks.available = False
    try:
        failed_from = jwks.requests
        wait_for(lambda: jwks.requests >= failed_from + 3, 15, "three failed JWKS fetches")
        # a token signed after the outage began, with the key the gateway already knows
        assert status(gateway, minter.mint("bob", ["customer"])) == 200
        # an unknown kid is still an invalid token (401), not "authentication unavailable"
        assert status(gateway, made_up_kid(minter)) == 401
    finally:
        jwks.available = True


def test_rotated_in_keys_are_accepted_and_withdrawn_keys_refused(
    stack: Stack,
    identity_keys: tuple[TokenMinter, JwksServer],
) -> None:
    """Identity publishes a new key before it signs with it (its activation delay, longer than
    the gateway's refresh period): the first token with the new kid passes, even right after a
    burst of made-up kids. A key identity stops publishing stops verifying."""
    minter, jwks = identity_keys
    gateway = keyed_gateway(stack, jwks, "gateway-keys-rotation")
    old_token = minter.mint("alice", ["customer"])
    assert status(gateway, old_token) == 200
    assert [status(gateway, made_up_kid(minter)) for _ in range(30)] == [401] * 30

    old_kid = minter.kid
    minter.rotate()
    published_at = jwks.requests
    # the second fetch after publication starts only once the first one is done
    wait_for(lambda: jwks.requests >= published_at + 2, 15, "a JWKS refresh after the rotation")
    assert status(gateway, minter.mint("alice", ["customer"])) == 200
    assert status(gateway, old_token) == 200

    jwks.withdrawn.add(old_kid)
    wait_for(lambda: status(gateway, old_token) == 401, 15, "the withdrawn key to be refused")
    assert status(gateway, minter.mint("alice", ["customer"])) == 200


def test_a_key_used_as_soon_as_published_costs_one_fetch(
    stack: Stack,
    identity_keys: tuple[TokenMinter, JwksServer],
) -> None:
    """`rotate-keys --immediate`: the first tokens with the new kid, arriving together, cause
    one JWKS fetch between them (single flight) and pass; made-up kids within the refetch
    interval cause none."""
    minter, jwks = identity_keys
    gateway = keyed_gateway(stack, jwks, "gateway-keys-immediate", refresh_s=3600, refetch_s=30)
    assert status(gateway, minter.mint("alice", ["customer"])) == 200

    minter.rotate()
    fetches_before = jwks.requests
    tokens = [minter.mint(f"user-{i}", ["customer"]) for i in range(8)]

    def first_call(token: str) -> int:
        with httpx.Client(timeout=10.0) as http:
            return status(gateway, token, http)

    with ThreadPoolExecutor(len(tokens)) as pool:
        codes = list(pool.map(first_call, tokens))
    assert codes == [200] * len(tokens)
    assert jwks.requests == fetches_before + 1

    assert [status(gateway, made_up_kid(minter)) for _ in range(20)] == [401] * 20
    assert jwks.requests == fetches_before + 1
