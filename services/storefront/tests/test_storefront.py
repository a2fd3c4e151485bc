"""The storefront's tiers (see conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from emporium_platform.processes import ensure_storefront_built

Npm = Callable[..., str]

# pages that must each be a lazily loaded chunk of their own
PAGES = (
    "Home",
    "SearchPage",
    "ProductPage",
    "SignIn",
    "Seller",
    "Admin",
    "CartPage",
    "Checkout",
    "Orders",
    "OrderPage",
)


@pytest.mark.unit
def test_component_tests(npm: Npm) -> None:
    """Vitest + Testing Library: facets, search parameters, forms, product page, session,
    the cart's store, live stream and page, checkout."""
    npm("test")


@pytest.mark.unit
def test_lint(npm: Npm) -> None:
    """Typed operations match the supergraph, formatting, oxlint and the type check."""
    npm("run", "lint")


@pytest.mark.unit
def test_initial_javascript_within_budget(npm: Npm) -> None:
    """The production build's initial JavaScript is at most 200 KB gzipped; every page is a
    chunk of its own, loaded on demand."""
    ensure_storefront_built()
    report = npm("exec", "--", "node", "scripts/bundle-size.mjs")
    initial = re.search(r"initial JavaScript: ([\d.]+) kB gzipped", report)
    assert initial is not None, report
    assert float(initial.group(1)) <= 200.0, report
    for page in PAGES:
        assert re.search(rf"^\s+{page}\.tsx\s", report, re.M), f"{page} is no chunk:\n{report}"


@pytest.mark.workflow
@pytest.mark.timeout(900)
def test_end_to_end(npm: Npm, e2e_env: dict[str, str]) -> None:
    """Playwright drives Chromium through the shop against the real services: browse and
    filter, search, the account journey, the seller and admin areas, the cart (live across
    tabs, coupons, merged at sign-in), checkout to a confirmed order and a declined card, a
    phone-sized journey, axe on every page, keyboard use."""
    npm("run", "e2e", env=e2e_env, timeout=840)
