"""The storefront's tiers (see conftest.py)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from emporium_platform.processes import ensure_storefront_built, free_port, storefront_process
from emporium_platform.shop import DemoShop

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


def _rendered_entry(manifest: dict[str, Any]) -> tuple[str, set[str]]:
    """What a page the server rendered loads in the app's place (src/hydrate.tsx), and the
    app's chunks it fetches after the paint (all of src/main.tsx's but the entry itself)."""
    hydrate = _chunks(manifest, "src/hydrate.tsx")
    app = _chunks(manifest, "index.html") - hydrate - {manifest["index.html"]["file"]}
    return manifest["src/hydrate.tsx"]["file"], app


@pytest.mark.unit
def test_a_page_arrives_naming_its_own_chunks(tmp_path: Path) -> None:
    """With no gateway to render from, the server answers each route with the app's HTML,
    naming that page's chunks for preloading (and not the entry's, already named): they load
    beside the entry."""
    directory = ensure_storefront_built()
    manifest = json.loads((directory / "dist" / ".vite" / "manifest.json").read_text())
    entry = _chunks(manifest, "index.html")
    # nothing listens there: the shopper's pages fall back to the browser's drawing
    gateway = f"http://127.0.0.1:{free_port()}/graphql"
    server = storefront_process(env={"EMPORIUM_GATEWAY_URL": gateway}, log_dir=tmp_path)
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
            assert 'id="emporium-state"' not in answer.text, path
            named = _preloads(answer.text) - base
            assert named == _chunks(manifest, f"src/pages/{page}.tsx") - entry, path
            for chunk in named:
                assert client.get(f"/{chunk}").status_code == 200, chunk
        assert client.get("/assets/no-such-chunk.js").status_code == 404


def _server_state(page: str) -> dict[str, Any]:
    found = re.search(
        r'<script type="application/json" id="emporium-state">(.*?)</script>', page, re.S
    )
    assert found is not None, "the page carries no state"
    state: dict[str, Any] = json.loads(found.group(1))
    return state


def _gql(
    client: httpx.Client, query: str, variables: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    answer = client.post("", json={"query": query, "variables": variables}, headers=headers)
    body: dict[str, Any] = answer.json()
    assert answer.status_code == 200, body
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


@pytest.mark.integration
def test_the_shoppers_pages_arrive_rendered(shop: DemoShop) -> None:
    """Home, search, category and product pages arrive drawn from the gateway's answers, with
    the state the browser hydrates from and their chunks named, not preloaded; a page that
    needs the shopper's session stays the browser's to draw."""
    directory = ensure_storefront_built()
    manifest = json.loads((directory / "dist" / ".vite" / "manifest.json").read_text())
    entry = _chunks(manifest, "index.html")
    hydrate, app = _rendered_entry(manifest)
    with (
        httpx.Client(base_url=shop.gateway_url, timeout=30) as gateway,
        httpx.Client(base_url=shop.url, timeout=30) as client,
    ):
        hits = _gql(
            gateway,
            "query($q: String) { search(query: $q, first: 4) { edges { node { name slug } } } }",
            {"q": "phone"},
        )["search"]["edges"]
        product = hits[0]["node"]

        page = client.get(f"/p/{product['slug']}").text
        # the product's own markup, its first picture asked for at once
        assert "<h1" in page
        assert html.escape(product["name"]) in page
        pictures = [tag.lower() for tag in re.findall(r"<img\b[^>]*>", page)]
        assert any('fetchpriority="high"' in tag and "?w=" in tag for tag in pictures), pictures
        assert f"<title>{html.escape(product['name'])} · Emporium</title>" in page
        state = _server_state(page)
        assert any(key.startswith("productBySlug") for key in state["apollo"]["ROOT_QUERY"])
        chunks = re.search(r'<meta name="emporium-chunks" content="([^"]+)">', page)
        assert chunks is not None
        named = {chunk.lstrip("/") for chunk in chunks.group(1).split()}
        assert named == app | (_chunks(manifest, "src/pages/ProductPage.tsx") - entry)
        # the small entry in the app's place, and nothing of the app fetched with the HTML
        assert f'<script type="module" crossorigin src="/{hydrate}">' in page
        assert manifest["index.html"]["file"] not in page
        assert "modulepreload" not in page

        results = client.get("/search", params={"q": "phone"}).text
        _server_state(results)
        for hit in hits:
            assert html.escape(hit["node"]["name"]) in results

        assert 'id="emporium-state"' in client.get("/").text
        category = _gql(gateway, "{ rootCategories { slug name } }", {})["rootCategories"][0]
        listing = client.get(f"/c/{category['slug']}").text
        assert html.escape(category["name"]) in listing
        _server_state(listing)

        # not found is drawn too: the state says so, and the browser shows the same
        missing = client.get("/p/no-such-product-anywhere").text
        assert "productBySlug" in json.dumps(_server_state(missing)["apollo"])

        for path in ("/cart", "/account", "/checkout"):
            assert 'id="emporium-state"' not in client.get(path).text, path


@pytest.mark.integration
def test_a_product_name_cannot_break_out_of_the_page(shop: DemoShop) -> None:
    """A seller's product named like markup is text on the rendered page and data in its
    state block: it neither closes the block nor runs."""
    name = 'Mallory </script><script>window.pwned=1</script><img src=x onerror="alert(1)"> Lamp'
    with (
        httpx.Client(base_url=shop.gateway_url, timeout=30) as gateway,
        httpx.Client(base_url=shop.url, timeout=30) as client,
    ):
        email = "seller@emporium.example"
        token = _gql(
            gateway,
            "mutation($input: LoginInput!) { login(input: $input) { accessToken } }",
            {"input": {"email": email, "password": shop.accounts[email]}},
        )["login"]["accessToken"]
        category = _gql(gateway, "{ rootCategories { id } }", {})["rootCategories"][0]["id"]
        created = _gql(
            gateway,
            "mutation($input: CreateProductInput!) { createProduct(input: $input) { id slug } }",
            {
                "input": {
                    "name": name,
                    "brand": "Mallory",
                    "categoryId": category,
                    "sku": f"XSS-{free_port()}",
                    "price": {"amount": 1999, "currency": "USD"},
                }
            },
            token,
        )["createProduct"]
        try:
            page = client.get(f"/p/{created['slug']}").text
            assert "<script>window.pwned" not in page
            assert "<img src=x" not in page
            # text in the markup, the exact name in the state block
            assert html.escape(name) in page
            state = _server_state(page)["apollo"]
            assert any(isinstance(v, dict) and v.get("name") == name for v in state.values())
        finally:
            _gql(
                gateway,
                "mutation($id: ID!) { archiveProduct(id: $id) { id } }",
                {"id": created["id"]},
                token,
            )


@pytest.mark.workflow
@pytest.mark.timeout(900)
def test_end_to_end(npm: Npm, e2e_env: dict[str, str]) -> None:
    """Playwright drives Chromium through the shop against the real services: browse and
    filter, search, the account journey, the seller and admin areas, the cart (live across
    tabs, coupons, merged at sign-in), checkout to a confirmed order and a declined card, a
    phone-sized journey, axe on every page, keyboard use."""
    npm("run", "e2e", env=e2e_env, timeout=840)
