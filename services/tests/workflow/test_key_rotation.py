"""Signing-key rotation through identity's CLI while clients keep working: tokens minted before
stay valid until they expire; new tokens carry the new kid, which the gateway (and catalog)
fetch from identity's JWKS."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from emporium_platform.harness import GraphQLClient
from emporium_platform.processes import ServiceProcess

from .conftest import (
    KEY_ACTIVATION_DELAY_S,
    Account,
    data,
    header_of,
    identity_cli,
    refresh,
)

pytestmark = pytest.mark.workflow

CREATE_CATEGORY = "mutation($n: String!) { createCategory(input: {name: $n}) { id name } }"
JWKS_FETCH = "GET /.well-known/jwks.json HTTP/1.1"


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def test_rotation_keeps_old_tokens_valid_and_new_kids_are_fetched(
    gateway: GraphQLClient,
    identity: ServiceProcess,
    jwks_url: str,
    admin: Account,
) -> None:
    old_kid = header_of(admin.access_token)["kid"]
    # the gateway and catalog know the current key already
    data(gateway.run("Me", token=admin.access_token))

    fetches_before = identity.log_text().count(JWKS_FETCH)
    rotated = identity_cli(identity, "rotate-keys")
    match = re.search(r"new signing key (\S+): published now", rotated)
    assert match, rotated
    new_kid = match.group(1)
    assert new_kid != old_kid

    def published() -> set[str]:
        return {key["kid"] for key in httpx.get(jwks_url, timeout=5).json()["keys"]}

    # identity's processes re-read their key set every EMPORIUM_IDENTITY_KEY_CACHE_S
    wait_for(lambda: {old_kid, new_kid} <= published(), 10, "both keys in identity's JWKS")

    # identity signs with the new key once its activation delay has passed
    session = admin

    def signed_with_new_key() -> bool:
        nonlocal session
        session = refresh(gateway, session)
        return header_of(session.access_token)["kid"] == new_kid

    wait_for(signed_with_new_key, KEY_ACTIVATION_DELAY_S + 10, "a token signed with the new key")

    # the gateway accepts the new kid: it fetched identity's JWKS since the rotation (on its
    # refresh timer, or for this token); only the gateway verifies `Me` through the JWKS
    me = data(gateway.run("Me", token=session.access_token))["me"]
    assert me["id"] == admin.user_id
    wait_for(
        lambda: identity.log_text().count(JWKS_FETCH) > fetches_before,
        10,
        "the gateway's JWKS fetch in identity's access log",
    )

    # catalog verifies the forwarded new-kid token itself, and the old token still works
    for label, token in (("new", session.access_token), ("old", admin.access_token)):
        name = f"Rotation {label} {new_kid[-6:]}"
        created = data(gateway.post(CREATE_CATEGORY, {"n": name}, token=token))
        assert created["createCategory"]["name"] == name

    keys = identity_cli(identity, "keys")
    assert re.search(rf"^{re.escape(new_kid)}\s+ES256\s+signing", keys, re.MULTILINE), keys
    assert re.search(rf"^{re.escape(old_kid)}\s+ES256\s+retired until", keys, re.MULTILINE), keys
