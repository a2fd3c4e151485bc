"""Cart benchmark: add-to-cart and get-cart through the gateway vs straight to the cart
subgraph, in one run; and the offer engine pricing a 50-line cart with 20 active rules,
in-process.

Needs a running platform: the local one (``./emporium up``), or the test instance of
``EMPORIUM_TEST_SLOT`` when that is set. The benchmark runs its own cart process (no access
log) and its own gateway in front of it, on free loopback ports, in a Redis namespace and a
Mongo database of its own (dropped at the end): it stores 200 product states the way the
catalog's events do, 20 active offers, and 200 guest carts. Run:

    uv run python loadtests/bench_cart.py [--total 4000] [--concurrency 16] [--rounds 2]

Add-to-cart adds one unit of a product to a guest cart (every request a different cart and
product, round-robin, so concurrent writes rarely meet on one cart); get-cart reads a guest
cart of 20 lines priced against the 20 offers. Both targets get the same requests; rounds
are interleaved and each target's least disturbed round is reported. It prints Markdown for
docs/performance.md; compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from bench_catalog import best
from benchkit import (
    ROOT,
    TABLE_HEADER,
    Result,
    bench_service,
    graphql_request,
    machine,
    platform_env,
    run_load,
)
from emporium_cart import pricing
from emporium_cart.models import MoneyView, OfferCreate, ProductState
from emporium_cart.settings import CartSettings
from emporium_kit.auth import Principal
from emporium_kit.clients import RedisStore
from emporium_kit.money import Money
from emporium_platform import Platform
from emporium_platform.processes import gateway_process
from pymongo import MongoClient

CARTS = 200
PRODUCTS = 200
LINES_PER_CART = 20
ADD = """mutation($i: CartLineInput!) {
  addToCart(input: $i) { version itemCount pricing { total { amount } } }
}"""
GET = """query($t: String) {
  cart(cartToken: $t) {
    version itemCount
    lines { id quantity unitPrice { amount } total { amount } }
    pricing { subtotal { amount } discountTotal { amount } total { amount formatted }
      notApplied { offerId reason } }
  }
}"""


def environment() -> dict[str, str]:
    if os.environ.get("EMPORIUM_TEST_SLOT"):
        platform = Platform.for_tests(ROOT)
        platform.up(infra_only=True)
        return platform.env()
    return platform_env()


def offers(products: list[str]) -> list[OfferCreate]:
    """20 active offers of every kind over the benchmark's products."""
    kinds = [
        {"kind": "PERCENT_OFF", "percent": "10"},
        {"kind": "AMOUNT_OFF", "amount": 150},
        {"kind": "BUY_X_GET_Y", "buy": 2, "get": 1},
        {
            "kind": "TIERED",
            "tiers": [{"threshold": 10000, "percent": "5"}, {"threshold": 50000, "percent": "8"}],
        },
    ]
    made = []
    for n in range(20):
        target = (
            {"kind": "CART"}
            if n % 5 == 0
            else {"kind": "PRODUCT", "values": products[n * 5 : n * 5 + 10]}
        )
        made.append(
            OfferCreate.model_validate(
                {
                    "label": f"Bench offer {n}",
                    "target": target,
                    "benefit": kinds[n % len(kinds)],
                    "priority": n % 3,
                    "stacking": "EXCLUSIVE" if n % 7 == 0 else "COMBINABLE",
                    "min_subtotal": 2000 if n % 4 == 0 else None,
                }
            )
        )
    made.append(
        OfferCreate.model_validate(
            {
                "label": "Free shipping",
                "target": {"kind": "CART"},
                "benefit": {"kind": "FREE_SHIPPING"},
                "min_subtotal": 5000,
            }
        )
    )
    return made[:20]


async def prepare(env: dict[str, str]) -> list[str]:
    """The product states and the offers; the product ids."""
    from emporium_cart.offers import Offers
    from emporium_cart.products import Products
    from emporium_cart.store import Keys, OffersDb
    from pymongo import AsyncMongoClient

    settings = CartSettings(
        _env_file=None,
        redis_url=env["EMPORIUM_REDIS_URL"],
        mongo_url=env["EMPORIUM_MONGO_URL"],
        mongo_database=env["EMPORIUM_MONGO_DATABASE"],
        cart_namespace=env["EMPORIUM_CART_NAMESPACE"],
    )
    redis = RedisStore(settings)
    keys = Keys(redis, settings.cart_namespace)
    products = Products(redis, keys, catalog=None)
    ids = [f"bench-{uuid.uuid4().hex[:12]}" for _ in range(PRODUCTS)]
    for n, product_id in enumerate(ids):
        await products.put(
            ProductState(
                id=product_id,
                name=f"Bench product {n}",
                brand=f"Brand {n % 7}",
                category_id=f"cat-{n % 10}",
                owner_seller_id=None,
                price=MoneyView(amount=500 + 37 * n, currency="USD"),
                availability="IN_STOCK",
                status="ACTIVE",
                version=1,
            )
        )
    client = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    db = OffersDb(client[str(settings.mongo_database)])
    admin = Principal(subject="bench", roles=frozenset({"admin"}))
    store = Offers(db, redis, keys, products, currency="USD", cache_s=0)
    for offer in offers(ids):
        await store.create(principal=admin, data=offer)
    await client.close()
    await redis.close()
    return ids


def guest_carts(url: str, products: list[str]) -> list[str]:
    """``CARTS`` guest carts of ``LINES_PER_CART`` lines each, made through the subgraph."""
    tokens = []
    with httpx.Client(timeout=30) as client:
        for n in range(CARTS):
            token = client.post(
                url, json={"query": "mutation { createGuestCart { token } }"}
            ).json()["data"]["createGuestCart"]["token"]
            for k in range(LINES_PER_CART):
                product = products[(n + k * 7) % len(products)]
                client.post(
                    url,
                    json={
                        "query": ADD,
                        "variables": {"i": {"cartToken": token, "productId": product}},
                    },
                ).raise_for_status()
            tokens.append(token)
    return tokens


async def measure(args: argparse.Namespace) -> list[Result]:
    env = {
        **environment(),
        "EMPORIUM_LOG_LEVEL": "WARNING",
        "EMPORIUM_CART_NAMESPACE": f"bench{uuid.uuid4().hex[:8]}",
        "EMPORIUM_MONGO_DATABASE": f"cart_bench_{uuid.uuid4().hex[:8]}",
        "EMPORIUM_CART_CONSUMER_NAME": f"cart-bench-{uuid.uuid4().hex[:8]}",
        "EMPORIUM_CART_CONSUMER_DELIVER": "new",
    }
    products = await prepare(env)
    load = {"total": args.total, "concurrency": args.concurrency}
    results: list[Result] = []
    try:
        with bench_service("cart", env) as cart:
            tokens = await asyncio.to_thread(guest_carts, cart.graphql_url, products)
            adds = [
                graphql_request(
                    "/graphql",
                    ADD,
                    {
                        "i": {
                            "cartToken": tokens[n % CARTS],
                            "productId": products[(n * 13) % PRODUCTS],
                        }
                    },
                )
                for n in range(CARTS * 10)
            ]
            reads = [graphql_request("/graphql", GET, {"t": t}) for t in tokens]
            gateway_env = {
                "EMPORIUM_ENVIRONMENT": "development",
                "EMPORIUM_SUBGRAPH_CART_URL": cart.graphql_url,
                "EMPORIUM_REDIS_URL": env["EMPORIUM_REDIS_URL"],
                "EMPORIUM_RATE_LIMIT_MAX": "1000000",
                "EMPORIUM_LOG_LEVEL": "warn",
            }
            with gateway_process(env=gateway_env, name="bench-gateway") as gateway:
                for _ in range(args.rounds):
                    results += [
                        await run_load("get-cart, direct", "127.0.0.1", cart.port, reads, **load),
                        await run_load(
                            "get-cart, gateway", "127.0.0.1", gateway.port, reads, **load
                        ),
                        await run_load("add-to-cart, direct", "127.0.0.1", cart.port, adds, **load),
                        await run_load(
                            "add-to-cart, gateway", "127.0.0.1", gateway.port, adds, **load
                        ),
                    ]
    finally:
        with MongoClient(env["EMPORIUM_MONGO_URL"]) as client:
            client.drop_database(env["EMPORIUM_MONGO_DATABASE"])
        redis = RedisStore(CartSettings(_env_file=None, redis_url=env["EMPORIUM_REDIS_URL"]))
        async for key in redis.client.scan_iter(
            match=f"cart:{env['EMPORIUM_CART_NAMESPACE']}:*", count=1000
        ):
            await redis.client.delete(key)
        await redis.close()
    return results


def pricing_times(iterations: int) -> tuple[list[float], list[float]]:
    """Milliseconds per ``price_cart`` of a 50-line cart with 20 active rules: wall-clock,
    and the thread's CPU time (what the call costs, without the time other processes on a
    shared machine took the core)."""
    usd = "USD"
    lines = [
        pricing.Line(
            line_id=f"l{n:02}",
            product_id=f"p{n}",
            unit_price=Money(500 + 37 * n, usd),
            quantity=1 + n % 4,
            category_path=("root", f"cat-{n % 5}"),
            brand=f"Brand {n % 7}",
            seller_id=f"s{n % 3}",
        )
        for n in range(50)
    ]
    ids = [f"p{n}" for n in range(50)]
    rules = []
    for n in range(20):
        benefit = [
            pricing.Benefit(pricing.BenefitKind.PERCENT_OFF, percent=Decimal(10)),
            pricing.Benefit(pricing.BenefitKind.AMOUNT_OFF, amount=Money(150, usd)),
            pricing.Benefit(pricing.BenefitKind.BUY_X_GET_Y, buy=2, get=1),
            pricing.Benefit(
                pricing.BenefitKind.TIERED,
                tiers=(
                    pricing.Tier(Money(10000, usd), percent=Decimal(5)),
                    pricing.Tier(Money(50000, usd), percent=Decimal(8)),
                ),
            ),
        ][n % 4]
        target = [
            pricing.Target(pricing.TargetKind.CART),
            pricing.Target(pricing.TargetKind.PRODUCT, frozenset(ids[n * 2 : n * 2 + 10])),
            pricing.Target(pricing.TargetKind.CATEGORY, frozenset({f"cat-{n % 5}"})),
            pricing.Target(pricing.TargetKind.BRAND, frozenset({f"Brand {n % 7}"})),
            pricing.Target(pricing.TargetKind.SELLER, frozenset({f"s{n % 3}"})),
        ][n % 5]
        stacking = pricing.Stacking.EXCLUSIVE if n % 7 == 0 else pricing.Stacking.COMBINABLE
        rules.append(
            pricing.Rule(
                f"r{n:02}", f"Rule {n}", target, benefit, priority=n % 3, stacking=stacking
            )
        )
    context = pricing.PricingContext(
        now=datetime.now(UTC), currency=usd, shipping_fee=Money(599, usd)
    )
    for _ in range(50):
        pricing.price_cart(lines, rules, context)
    wall, cpu = [], []
    for _ in range(iterations):
        started, started_cpu = time.perf_counter(), time.thread_time()
        pricing.price_cart(lines, rules, context)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    return wall, cpu


def print_pricing(iterations: int) -> None:
    wall, cpu = pricing_times(iterations)
    print(f"\npricing, 50 lines x 20 rules, {iterations} runs in-process:")
    for name, times in (("wall-clock", wall), ("CPU time", cpu)):
        q = statistics.quantiles(times, n=100, method="inclusive")
        verdict = "meets" if q[98] < 2.0 else "misses"
        print(
            f"  {name}: p50 {q[49]:.3f} ms, p99 {q[98]:.3f} ms, max {max(times):.3f} ms"
            f" ({verdict} the 2 ms p99 target)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=4000, help="requests per target and round")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pricing", type=int, default=2000, help="in-process pricing runs")
    parser.add_argument(
        "--pricing-only", action="store_true", help="only the in-process pricing measurement"
    )
    args = parser.parse_args()
    if not 1 <= args.total <= 100_000 or not 1 <= args.concurrency <= 256:
        parser.error("--total must be 1..100000 and --concurrency 1..256")
    if not 1 <= args.rounds <= 10 or not 100 <= args.pricing <= 100_000:
        parser.error("--rounds must be 1..10 and --pricing 100..100000")
    if args.pricing_only:
        print(f"{dt.date.today()} · {machine()}")
        print_pricing(args.pricing)
        return
    results = best(asyncio.run(measure(args)))
    by_name = {r.name: r for r in results}
    print(
        f"{dt.date.today()} · {machine()} · {args.total} requests x {args.rounds} rounds, "
        f"{args.concurrency} connections, {CARTS} guest carts of {LINES_PER_CART} lines, "
        "20 offers\n"
    )
    print(TABLE_HEADER)
    for r in results:
        print(r.row())
    for what in ("get-cart", "add-to-cart"):
        via, direct = by_name[f"{what}, gateway"], by_name[f"{what}, direct"]
        print(
            f"\n{what}: gateway / direct p50 {via.p50_ms / direct.p50_ms:.2f}x, "
            f"p99 {via.p99_ms / direct.p99_ms:.2f}x, throughput {via.rps / direct.rps:.2f}x"
        )
    print_pricing(args.pricing)
    errors = sum(r.errors for r in results)
    if errors:
        raise SystemExit(f"errors during the run: {errors}")


if __name__ == "__main__":
    main()
