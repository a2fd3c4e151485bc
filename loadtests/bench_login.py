"""Login throughput of the identity subgraph with the argon2id parameters stated.

Starts a real identity service (``emporium-identity serve``) on loopback (its own throwaway
Mongo database and Redis namespace; rate limits raised so the benchmark measures hashing, not
throttling),
registers a few users, then replays ``login`` mutations round-robin. It also times a bare
argon2id hash in this process, so the per-request cost can be compared with the hash alone.

Needs the local platform (``./emporium up`` or ``uv run emporium-platform up --infra-only``):

    uv run python loadtests/bench_login.py [--total 400] [--concurrency 4]
        [--time-cost 2] [--memory-kib 19456] [--parallelism 1] [--hash-concurrency 2]

Defaults are the service's production defaults (OWASP's argon2id minimum). Request count and
duration are bounded; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import time

import httpx
from argon2 import PasswordHasher, Type
from benchkit import (
    TABLE_HEADER,
    Result,
    bench_service,
    graphql_request,
    machine,
    platform_env,
    run_load,
)
from pymongo import MongoClient
from ulid import ULID

MAX_TOTAL = 5000
LOGIN = "mutation Login($i: LoginInput!) { login(input: $i) { accessToken expiresIn user { id } } }"
REGISTER = "mutation($i: RegisterInput!) { register(input: $i) { user { id } } }"
PASSWORD = "benchmark passphrase 42"
UNLIMITED = "1000000/minute"


def hash_cost_ms(args: argparse.Namespace, rounds: int = 20) -> float:
    """Median time of one argon2id hash with the benchmark's parameters, in this process."""
    hasher = PasswordHasher(
        time_cost=args.time_cost,
        memory_cost=args.memory_kib,
        parallelism=args.parallelism,
        type=Type.ID,
    )
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        hasher.hash(PASSWORD)
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


async def register_users(base: str, count: int) -> list[str]:
    emails = [f"bench-{str(ULID()).lower()}@example.com" for _ in range(count)]
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for email in emails:
            response = await client.post(
                "/graphql",
                json={
                    "query": REGISTER,
                    "variables": {"i": {"email": email, "password": PASSWORD}},
                },
            )
            body = response.json()
            if "errors" in body:
                raise SystemExit(f"registration failed: {body['errors']}")
    return emails


async def measure(args: argparse.Namespace) -> tuple[Result, str]:
    tag = str(ULID()).lower()
    database = f"identity_bench_{tag}"
    env = {
        **platform_env(),
        "EMPORIUM_LOG_LEVEL": "WARNING",
        "EMPORIUM_MONGO_DATABASE": database,
        "EMPORIUM_IDENTITY_REDIS_NAMESPACE": f"bench-{tag}",
        "EMPORIUM_IDENTITY_ARGON2_TIME_COST": str(args.time_cost),
        "EMPORIUM_IDENTITY_ARGON2_MEMORY_KIB": str(args.memory_kib),
        "EMPORIUM_IDENTITY_ARGON2_PARALLELISM": str(args.parallelism),
        "EMPORIUM_IDENTITY_HASH_CONCURRENCY": str(args.hash_concurrency),
        "EMPORIUM_IDENTITY_LOGIN_LIMIT_PER_ACCOUNT": UNLIMITED,
        "EMPORIUM_IDENTITY_LOGIN_LIMIT_PER_ADDRESS": UNLIMITED,
        "EMPORIUM_IDENTITY_REGISTER_LIMIT_PER_ADDRESS": UNLIMITED,
    }
    try:
        with bench_service("identity", env) as server:
            base, port = server.url, server.port
            emails = await register_users(base, args.users)
            logins = [
                graphql_request("/graphql", LOGIN, {"i": {"email": email, "password": PASSWORD}})
                for email in emails
            ]
            result = await asyncio.wait_for(
                run_load(
                    "identity login (GraphQL)",
                    "127.0.0.1",
                    port,
                    logins,
                    total=args.total,
                    concurrency=args.concurrency,
                    warmup=args.concurrency * 2,
                ),
                timeout=args.max_seconds,
            )
    finally:
        with MongoClient(env["EMPORIUM_MONGO_URL"]) as client:
            client.drop_database(database)
    parameters = (
        f"argon2id m={args.memory_kib} KiB, t={args.time_cost}, p={args.parallelism}; "
        f"{args.hash_concurrency} concurrent hashes per process"
    )
    return result, parameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--total", type=int, default=400, help=f"login requests (<= {MAX_TOTAL})")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--time-cost", type=int, default=2)
    parser.add_argument("--memory-kib", type=int, default=19_456)
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--hash-concurrency", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    args = parser.parse_args()
    if not 1 <= args.total <= MAX_TOTAL:
        parser.error(f"--total must be 1..{MAX_TOTAL}")
    if not 1 <= args.concurrency <= 64:
        parser.error("--concurrency must be 1..64")

    hash_ms = hash_cost_ms(args)
    result, parameters = asyncio.run(measure(args))
    print(f"identity login benchmark, {dt.date.today().isoformat()}, {machine()}")
    print(f"{parameters}; one hash alone: {hash_ms:.1f} ms (median of 20)")
    print(f"{args.total} logins over {args.concurrency} connections, {args.users} accounts\n")
    print(TABLE_HEADER)
    print(result.row())


if __name__ == "__main__":
    main()
