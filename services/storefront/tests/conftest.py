"""The storefront's tiers in the project's test command: its component tests (Vitest), lint
and type check, its production build with the bundle budget, and its end-to-end suite
(Playwright driving the system Chromium) against the real services: the demo shop of
:mod:`emporium_platform.shop` on the test platform (``.platform-test/``, ports from
``EMPORIUM_TEST_SLOT``): the harness's stack of identity, catalog, search and a gateway, the
demo data, the production build.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator

import pytest
from emporium_platform.harness import Stack
from emporium_platform.processes import ensure_npm_installed, storefront_dir
from emporium_platform.shop import DemoShop, demo_shop, shop_environment

STOREFRONT = storefront_dir()


def run_npm(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """``npm ARGS`` in the storefront's folder; fails the test with the tail of its output."""
    ensure_npm_installed(STOREFRONT)
    result = subprocess.run(
        ["npm", *args],
        cwd=STOREFRONT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"npm {' '.join(args)} failed:\n{output[-8000:]}"
    return output


@pytest.fixture
def npm() -> Callable[..., str]:
    return run_npm


@pytest.fixture(scope="session")
def shop(stacks: Callable[..., Stack]) -> Iterator[DemoShop]:
    with stacks("shop") as stack, demo_shop(stack) as running:
        yield running


@pytest.fixture(scope="session")
def e2e_env(shop: DemoShop) -> dict[str, str]:
    """Where the end-to-end suite finds the shop, and the demo accounts it signs in with."""
    return shop_environment(shop)
