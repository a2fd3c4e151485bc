"""The storefront's tiers (see conftest.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from emporium_platform.processes import ensure_storefront_built, storefront_process

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


def _chunks(manifest: dict[str, dict[str, list[str]]], key: str) -> set[str]:
    """The files of ``key`` and of everything it imports, as the build manifest lists them."""
    seen: set[str] = set()
    pending = [key]
    while pending:
        current = pending.pop()
        if current not in seen:
            seen.add(current)
            pending.extend(manifest[current].get("imports", []))
    return {str(manifest[k]["file"]) for k in seen}


def _preloads(html: str) -> set[str]:
    return set(re.findall(r'<link rel="modulepreload" crossorigin href="/([^"]+)">', html))


@pytest.mark.unit
def test_a_page_arrives_naming_its_own_chunks(tmp_path: Path) -> None:
    """The static server answers each route with HTML that names that page's chunks for
    preloading (and not the entry's, already named): they load beside the entry."""
    directory = ensure_storefront_built()
    manifest = json.loads((directory / "dist" / ".vite" / "manifest.json").read_text())
    entry = _chunks(manifest, "index.html")
    server = storefront_process(
        env={"EMPORIUM_GATEWAY_URL": "http://127.0.0.1:4000/graphql"}, log_dir=tmp_path
    )
    with server.start(timeout=60), httpx.Client(base_url=server.url) as client:
        # the build's own index.html names what the entry itself imports
        base = _preloads(client.get("/index.html").text)
        for path, page in (
            ("/", "Home"),
            ("/p/any-product", "ProductPage"),
            ("/search?q=phone", "SearchPage"),
            ("/c/phones", "SearchPage"),
            ("/account/orders/01J0000000000000000000000", "account/OrderPage"),
            ("/no/such/page", "NotFound"),
        ):
            answer = client.get(path)
            assert answer.status_code == 200, path
            named = _preloads(answer.text) - base
            assert named == _chunks(manifest, f"src/pages/{page}.tsx") - entry, path
            for chunk in named:
                assert client.get(f"/{chunk}").status_code == 200, chunk
        assert client.get("/assets/no-such-chunk.js").status_code == 404


@pytest.mark.workflow
@pytest.mark.timeout(900)
def test_end_to_end(npm: Npm, e2e_env: dict[str, str]) -> None:
    """Playwright drives Chromium through the shop against the real services: browse and
    filter, search, the account journey, the seller and admin areas, the cart (live across
    tabs, coupons, merged at sign-in), checkout to a confirmed order and a declined card, a
    phone-sized journey, axe on every page, keyboard use."""
    npm("run", "e2e", env=e2e_env, timeout=840)
