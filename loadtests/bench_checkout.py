"""Checkout benchmark: placeOrder → CONFIRMED latency (p50/p99) and orders/s at 1, 10, 25 and
50 concurrent buyers, with JetStream at its default durability and with
``sync_interval: always`` (fsync before every PubAck, docs/events.md), measured in one run.

Needs ``EMPORIUM_TEST_SLOT``: the benchmark brings up that test instance's Redis, FerretDB,
stripe-mock and Mailpit (never the developer's platform) and runs, per durability setting,
its own nats-server and its own checkout stack (catalog, inventory, payment, order,
notification, the cart when placing from carts, a gateway; the test harness's ``Stack``, so
its databases are dropped at the end). Run:

    EMPORIUM_TEST_SLOT=5 uv run python loadtests/bench_checkout.py [--buyers 1 10 25 50]
        [--orders-per-buyer 4] [--placement lines|cart]

Each buyer is a signed-in customer in a closed loop: place an order of one unit (products
round-robin over 50, so buyers rarely meet on one SKU's lease), wait for it to be confirmed,
place the next. Latency runs from sending ``placeOrder`` to ``OrderConfirmed`` arriving on
the benchmark's own NATS (it is written in the same document write that makes the order
CONFIRMED, and published within milliseconds; watching the bus costs the services nothing,
where polling ``order(id)`` at 50 buyers would be load of its own). An order that ends
otherwise (cancelled, payment failed) or is not confirmed within 120 s counts as failed.
The two settings are measured level by level, alternating, on stacks that are both up, so
machine noise lands on both. It prints Markdown for docs/performance.md.

**Placement** is one step (:class:`LinesPlacement`, :class:`CartPlacement`): ``placeOrder``
with the lines, or the buyer's cart filled through the cart service and ``placeOrder``
checking it out. ``--placement`` picks one; by default it is what the order service's schema
accepts (``lines`` in ``PlaceOrderInput`` or not). Filling the cart is not timed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
import nats
import orjson
from benchkit import ROOT, machine, private_nats
from emporium_kit.testing import JwksServer, TokenMinter
from emporium_platform import Platform
from emporium_platform.config import TEST_SLOT_ENV
from emporium_platform.harness import GraphQLClient, Stack
from emporium_platform.pytest_plugin import PlatformHandle
from ulid import ULID

PRODUCTS = 50
STOCK = 100_000
CONFIRM_TIMEOUT_S = 120.0
ORDER_SCHEMA = ROOT / "services/order/src/emporium_order/schema"
ADDRESS = {
    "name": "Ada Bench",
    "line1": "1 Main St",
    "city": "Berlin",
    "postalCode": "10115",
    "country": "DE",
}
PLACE = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id status } }"
ADD_TO_CART = """mutation($p: ID!) {
  addToCart(input: {productId: $p, quantity: 1}) { version }
}"""


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Product:
    id: str
    sku: str


class GraphQLError(RuntimeError):
    """An answer with errors; ``code`` is the first one's."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.code = str(errors[0].get("extensions", {}).get("code", "ERROR"))


class Gateway:
    """Async GraphQL calls to one gateway; errors raise :class:`GraphQLError`."""

    def __init__(self, url: str) -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        self.url = url
        self.http = httpx.AsyncClient(timeout=60.0, limits=limits)

    async def ok(self, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
        response = await self.http.post(
            self.url,
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {token}"},
        )
        body = response.json()
        if body.get("errors"):
            raise GraphQLError(body["errors"])
        return body["data"]


# -- placement: the one step that changes when placeOrder's input changes ------------------


class Placement(Protocol):
    name: str
    services: tuple[str, ...]  # what it needs in the stack besides the checkout's own

    async def prepare(self, gateway: Gateway, token: str, product: Product) -> None:
        """Untimed: whatever must exist before ``placeOrder`` (a filled cart)."""

    def input(self, key: str, product: Product) -> dict[str, Any]:
        """``placeOrder``'s input for one unit of ``product``."""


class LinesPlacement:
    """``placeOrder(input: {lines, shippingAddress, idempotencyKey, email})``."""

    name = "lines"
    services: tuple[str, ...] = ()

    async def prepare(self, gateway: Gateway, token: str, product: Product) -> None:
        return None

    def input(self, key: str, product: Product) -> dict[str, Any]:
        return {
            "lines": [{"productId": product.id, "sku": product.sku, "quantity": 1}],
            "shippingAddress": ADDRESS,
            "idempotencyKey": key,
            "email": "bench@example.test",
        }


class CartPlacement:
    """The signed-in buyer's cart gets the unit (``addToCart``), then
    ``placeOrder(input: {shippingAddress, idempotencyKey, email})`` checks the cart out."""

    name = "cart"
    services: tuple[str, ...] = ("cart",)

    async def prepare(self, gateway: Gateway, token: str, product: Product) -> None:
        await gateway.ok(ADD_TO_CART, {"p": product.id}, token)

    def input(self, key: str, product: Product) -> dict[str, Any]:
        return {"shippingAddress": ADDRESS, "idempotencyKey": key, "email": "bench@example.test"}


PLACEMENTS: dict[str, Placement] = {"lines": LinesPlacement(), "cart": CartPlacement()}


def default_placement() -> str:
    """``lines`` while the order's ``PlaceOrderInput`` takes lines, else ``cart``."""
    schema = "\n".join(p.read_text() for p in sorted(ORDER_SCHEMA.glob("*.graphql")))
    block = schema.split("input PlaceOrderInput", 1)[1].split("}", 1)[0]
    return "lines" if "lines:" in block else "cart"


# -- one stack per durability setting ---------------------------------------------------------


@dataclass
class Outcomes:
    """Orders' endings as they appear on the bus: order id -> (monotonic time, event type)."""

    ended: dict[str, tuple[float, str]] = field(default_factory=dict)
    waiters: dict[str, asyncio.Future[tuple[float, str]]] = field(default_factory=dict)

    def record(self, order_id: str, kind: str) -> None:
        at = (time.monotonic(), kind)
        self.ended.setdefault(order_id, at)
        waiter = self.waiters.pop(order_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(self.ended[order_id])

    async def wait(self, order_id: str) -> tuple[float, str]:
        if order_id in self.ended:
            return self.ended[order_id]
        waiter = asyncio.get_running_loop().create_future()
        self.waiters[order_id] = waiter
        return await waiter


@dataclass
class Target:
    name: str
    gateway: Gateway
    admin: str
    outcomes: Outcomes
    products: list[Product]


@contextlib.contextmanager
def checkout_stack(
    platform: Platform, nats_url: str, jwks: JwksServer, placement: Placement, log_dir: Path
) -> Iterator[tuple[Stack, GraphQLClient]]:
    env = {"EMPORIUM_NATS_URL": nats_url, "EMPORIUM_LOG_LEVEL": "WARNING"}
    log_dir.mkdir(parents=True, exist_ok=True)
    handle = PlatformHandle(platform)
    with Stack(handle, label="bench", log_dir=log_dir, jwks_url=jwks.url, env=env) as stack:
        for name in ("catalog", "inventory", "payment", *placement.services, "order"):
            stack.start(name, env={"EMPORIUM_ACCESS_LOG": "false"})
        stack.start("notification", env={"EMPORIUM_ACCESS_LOG": "false"})
        yield stack, stack.gateway()


async def watch(nats_url: str, outcomes: Outcomes) -> nats.aio.client.Client:
    """Core-NATS subscription to the order's endings on the stack's own server."""
    nc = await nats.connect(nats_url)

    async def on_message(msg: Any) -> None:
        event = orjson.loads(msg.data)
        outcomes.record(event["aggregate_id"], event["type"])

    for kind in ("OrderConfirmed", "OrderCancelled", "OrderPaymentFailed"):
        await nc.subscribe(f"emporium.order.{kind}", cb=on_message)
    return nc


async def setup_shop(gateway: Gateway, admin: str, tag: str) -> list[Product]:
    """A category, a seller and ``PRODUCTS`` products, each offer stocked with ``STOCK``."""
    category = (
        await gateway.ok(
            "mutation($n: String!) { createCategory(input: {name: $n}) { id } }",
            {"n": f"Bench {tag}"},
            admin,
        )
    )["createCategory"]["id"]
    seller = (
        await gateway.ok(
            "mutation($n: String!) { createSeller(input: {name: $n}) { id } }",
            {"n": f"Bench Seller {tag}"},
            admin,
        )
    )["createSeller"]["id"]
    products = []
    for n in range(PRODUCTS):
        sku = f"BENCH-{tag.upper()}-{n:03d}"
        created = await gateway.ok(
            "mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }",
            {
                "i": {
                    "name": f"Bench Lamp {tag} {n}",
                    "brand": "Lumen",
                    "categoryId": category,
                    "sku": sku,
                    "price": {"amount": 2500 + n, "currency": "EUR"},
                    "ownerSellerId": seller,
                }
            },
            admin,
        )
        products.append(Product(created["createProduct"]["id"], sku))
    stock = "query($s: ID!) { inventoryStock(sku: $s) { onHand } }"
    for product in products:
        deadline = time.monotonic() + 60
        while (
            level := (await gateway.ok(stock, {"s": product.sku}, admin))["inventoryStock"]
        ) is None:
            if time.monotonic() > deadline:
                raise SystemExit(f"the inventory never learnt {product.sku}")
            await asyncio.sleep(0.2)
        await gateway.ok(
            """mutation($s: ID!, $d: Int!) {
              adjustInventoryStock(input: {sku: $s, delta: $d, reason: "bench"}) { onHand }
            }""",
            {"s": product.sku, "d": STOCK - level["onHand"]},
            admin,
        )
    return products


# -- the load -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    target: str
    buyers: int
    orders: int
    failed: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


async def buyer(
    target: Target,
    placement: Placement,
    minter: TokenMinter,
    *,
    index: int,
    orders: int,
    tally: Tally,
) -> None:
    token = minter.mint(f"bench-buyer-{ULID()}", ["customer"], ttl=timedelta(hours=1))
    for n in range(orders):
        product = target.products[(index * 7 + n) % len(target.products)]
        await placement.prepare(target.gateway, token, product)
        key = f"bench-{ULID()}"
        started = time.monotonic()
        try:
            placed = await target.gateway.ok(PLACE, {"i": placement.input(key, product)}, token)
            order_id = placed["placeOrder"]["id"]
            async with asyncio.timeout(CONFIRM_TIMEOUT_S):
                ended, kind = await target.outcomes.wait(order_id)
        except GraphQLError as exc:
            tally.failures.append(exc.code)
            continue
        except (TimeoutError, httpx.HTTPError) as exc:
            tally.failures.append(type(exc).__name__)
            continue
        if kind == "OrderConfirmed":
            tally.latencies.append((ended - started) * 1000)
        else:
            tally.failures.append(kind)


async def run_level(
    target: Target, placement: Placement, minter: TokenMinter, buyers: int, per_buyer: int
) -> Level:
    tally = Tally()
    started = time.monotonic()
    await asyncio.gather(
        *(
            buyer(target, placement, minter, index=i, orders=per_buyer, tally=tally)
            for i in range(buyers)
        )
    )
    latencies, failures = tally.latencies, tally.failures
    seconds = time.monotonic() - started
    ordered = sorted(latencies) or [0.0]
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    if failures:
        counts = {reason: failures.count(reason) for reason in sorted(set(failures))}
        say(f"{target.name} at {buyers}: failed {counts}")
    return Level(
        target.name,
        buyers,
        len(latencies),
        len(failures),
        seconds,
        statistics.median(ordered),
        p99,
    )


def knee(levels: list[Level]) -> Level:
    """The fewest buyers whose orders/s is within 10% of the best measured: past it, more
    buyers only wait longer."""
    best = max(level.rate for level in levels)
    return min((lv for lv in levels if lv.rate >= 0.9 * best), key=lambda lv: lv.buyers)


async def measure(args: argparse.Namespace) -> list[Level]:
    if not os.environ.get(TEST_SLOT_ENV):
        raise SystemExit(f"set {TEST_SLOT_ENV}: the benchmark runs on a test instance only")
    placement = PLACEMENTS[args.placement or default_placement()]
    say(f"placement: {placement.name}")
    platform = Platform.for_tests(ROOT)
    platform.up(["redis", "ferretdb", "stripe-mock", "mailpit"])
    minter = TokenMinter()
    admin = minter.mint(
        "bench-admin", ["admin"], scopes=["role:admin", "catalog:write"], ttl=timedelta(hours=2)
    )
    settings = {"default": None, "sync_always": "always"}
    with contextlib.ExitStack() as resources:
        jwks = resources.enter_context(JwksServer(minter))
        log_dir = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="bench-co-")))
        targets: list[Target] = []
        watchers = []
        for name, sync_interval in settings.items():
            nats_url = resources.enter_context(private_nats(sync_interval=sync_interval))
            say(f"{name}: starting the checkout stack on {nats_url}")
            _, client = resources.enter_context(
                checkout_stack(platform, nats_url, jwks, placement, log_dir / name)
            )
            outcomes = Outcomes()
            watchers.append(await watch(nats_url, outcomes))
            gateway = Gateway(client.url)
            products = await setup_shop(gateway, admin, f"{name}{str(ULID())[-6:].lower()}")
            targets.append(Target(name, gateway, admin, outcomes, products))
        try:
            for target in targets:  # warm every process's paths once
                await run_level(target, placement, minter, 2, 2)
            levels = []
            for buyers in args.buyers:
                per_buyer = max(args.orders_per_buyer, -(-args.min_orders // buyers))
                for target in targets:
                    level = await run_level(target, placement, minter, buyers, per_buyer)
                    say(
                        f"{target.name} {buyers} buyers: {level.orders} confirmed, "
                        f"{level.failed} failed, {level.rate:.1f}/s, "
                        f"p50 {level.p50_ms:.0f} ms, p99 {level.p99_ms:.0f} ms"
                    )
                    levels.append(level)
        finally:
            for watcher in watchers:
                await watcher.close()
            for target in targets:
                await target.gateway.http.aclose()
    return levels


def report(levels: list[Level], args: argparse.Namespace) -> str:
    placement = args.placement or default_placement()
    lines = [
        f"Checkout, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}; placement: "
        f"{placement}; {PRODUCTS} products, one unit per order",
        "",
        "| JetStream | buyers | confirmed | failed | orders/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for level in levels:
        lines.append(
            f"| {level.target} | {level.buyers} | {level.orders} | {level.failed} | "
            f"{level.rate:.1f} | {level.p50_ms:.0f} | {level.p99_ms:.0f} |"
        )
    lines.append("")
    by_target: dict[str, list[Level]] = {}
    for level in levels:
        by_target.setdefault(level.target, []).append(level)
    for name, own in by_target.items():
        at = knee(own)
        lines.append(f"- {name}: knee at {at.buyers} buyers, {at.rate:.1f} orders/s")
    default, always = by_target.get("default", []), by_target.get("sync_always", [])
    for a, b in zip(default, always, strict=False):
        if a.p50_ms and a.rate:
            lines.append(
                f"- {a.buyers} buyers: sync_always / default p50 {b.p50_ms / a.p50_ms:.2f}x, "
                f"p99 {b.p99_ms / max(a.p99_ms, 1):.2f}x, orders/s {b.rate / a.rate:.2f}x"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, nargs="+", default=[1, 10, 25, 50])
    parser.add_argument("--orders-per-buyer", type=int, default=3)
    parser.add_argument(
        "--min-orders", type=int, default=20, help="at least this many orders per level"
    )
    parser.add_argument("--placement", choices=sorted(PLACEMENTS), default=None)
    args = parser.parse_args()
    levels = asyncio.run(measure(args))
    print(report(levels, args))


if __name__ == "__main__":
    main()
