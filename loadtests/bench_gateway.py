"""Gateway overhead benchmark: a single-subgraph query (catalog product by id) through the
gateway vs the same query sent straight to the catalog subgraph, in one run.

Needs the local platform with the demo catalog (``./emporium up``). The benchmark runs its own
catalog process (no access log) and its own gateway in front of it, both on free loopback
ports, reading the demo catalog; nothing else is touched. Run:

    uv run python loadtests/bench_gateway.py [--total 4000] [--concurrency 16] [--rounds 2]

Both targets get the same document and the same product ids, round-robin, over keep-alive
connections; the rounds are interleaved so drift on a shared machine hits both alike, and
each target's least disturbed round is reported. The gateway runs as the platform runs it
(development mode, JWT plugin on, rate limiter on in Redis with a ceiling the benchmark
cannot reach, depth/token/cost checks on). It prints Markdown for docs/performance.md;
compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt

from bench_catalog import QUERY, best, product_ids
from benchkit import (
    TABLE_HEADER,
    Result,
    bench_service,
    graphql_request,
    machine,
    platform_env,
    run_load,
)
from emporium_platform.processes import gateway_process

GATEWAY = "gateway → catalog"
DIRECT = "catalog subgraph, direct"
# the target: the gateway's p99 at most 1.5x the subgraph's own
P99_TARGET = 1.5


async def measure(args: argparse.Namespace) -> list[Result]:
    env = {**platform_env(), "EMPORIUM_LOG_LEVEL": "WARNING"}
    ids = product_ids(env, args.products)
    requests = [graphql_request("/graphql", QUERY, {"id": i}) for i in ids]
    load = {"total": args.total, "concurrency": args.concurrency}
    results: list[Result] = []
    with bench_service("catalog", env) as catalog:
        gateway_env = {
            "EMPORIUM_ENVIRONMENT": "development",
            "EMPORIUM_SUBGRAPH_CATALOG_URL": catalog.graphql_url,
            # the same JWKS the platform's gateway uses; the benchmark's requests carry no token
            "EMPORIUM_JWKS_URL": "http://127.0.0.1:8001/.well-known/jwks.json",
            # the platform's Redis holds the rate-limit counters, as for the platform's gateway
            "EMPORIUM_REDIS_URL": env["EMPORIUM_REDIS_URL"],
            "EMPORIUM_RATE_LIMIT_MAX": "1000000",
            "EMPORIUM_LOG_LEVEL": "warn",
        }
        with gateway_process(env=gateway_env, name="bench-gateway") as gateway:
            for _ in range(args.rounds):
                results += [
                    await run_load(DIRECT, "127.0.0.1", catalog.port, requests, **load),
                    await run_load(GATEWAY, "127.0.0.1", gateway.port, requests, **load),
                ]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=4000, help="requests per target and round")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--products", type=int, default=200, help="distinct product ids")
    args = parser.parse_args()
    if not 1 <= args.total <= 100_000 or not 1 <= args.concurrency <= 256:
        parser.error("--total must be 1..100000 and --concurrency 1..256")
    if not 1 <= args.rounds <= 10:
        parser.error("--rounds must be 1..10")
    results = best(asyncio.run(measure(args)))
    by_name = {r.name: r for r in results}
    print(
        f"{dt.date.today()} · {machine()} · {args.total} requests x {args.rounds} rounds, "
        f"{args.concurrency} connections, {args.products} products\n"
    )
    print(TABLE_HEADER)
    for r in results:
        print(r.row())
    via, direct = by_name[GATEWAY], by_name[DIRECT]
    ratio = via.p99_ms / direct.p99_ms
    verdict = "meets" if ratio <= P99_TARGET else "misses"
    print(f"\ngateway / direct p99: {ratio:.2f}x ({verdict} the {P99_TARGET}x target)")
    print(f"gateway / direct p50: {via.p50_ms / direct.p50_ms:.2f}x")
    print(f"gateway / direct throughput: {via.rps / direct.rps:.2f}x")
    if via.errors or direct.errors:
        raise SystemExit(f"errors during the run: gateway {via.errors}, direct {direct.errors}")


if __name__ == "__main__":
    main()
