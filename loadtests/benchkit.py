"""Shared pieces of the micro-benchmarks: server processes and a low-overhead load generator.

The load generator speaks plain HTTP/1.1 keep-alive over asyncio streams so that, on a small
machine where client and server share the cores, the client's own cost stays small and equal
for every target compared in one run. Only loopback addresses are accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from emporium_platform import Platform
from emporium_platform.config import TEST_SLOT_ENV
from emporium_platform.installers import find_script
from emporium_platform.processes import ServiceProcess, free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Request:
    """One request to replay: method, path, headers and body."""

    method: str
    path: str
    body: bytes = b""
    headers: Mapping[str, str] | None = None

    def encode(self, host: str, port: int) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}:{port}"]
        headers = {"Content-Length": str(len(self.body)), **(self.headers or {})}
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def graphql_request(
    path: str, query: str, variables: dict | None = None, **headers: str
) -> Request:
    import orjson

    body = orjson.dumps({"query": query, "variables": variables or {}})
    return Request("POST", path, body, {"Content-Type": "application/json", **headers})


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def row(self) -> str:
        return (
            f"| {self.name} | {self.requests} | {self.errors} | {self.rps:,.0f} | "
            f"{self.p50_ms:.2f} | {self.p90_ms:.2f} | {self.p99_ms:.2f} |"
        )


TABLE_HEADER = (
    "| target | requests | errors | req/s | p50 ms | p90 ms | p99 ms |\n"
    "|---|---:|---:|---:|---:|---:|---:|"
)


def _loopback(host: str) -> str:
    if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
        raise SystemExit(f"benchmarks only target loopback addresses, not {host}")
    return host


async def _read_response(reader: asyncio.StreamReader) -> int:
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    chunked = False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while (size := int((await reader.readline()).strip(), 16)) > 0:
            await reader.readexactly(size + 2)
        await reader.readline()
    else:
        await reader.readexactly(length)
    return status


async def _worker(
    host: str, port: int, payloads: list[bytes], count: int, latencies: list[float]
) -> int:
    """Send ``count`` requests on one keep-alive connection, reconnecting after a failure;
    returns how many failed (status >= 400 or a broken connection)."""
    errors = 0
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for i in range(count):
            payload = payloads[i % len(payloads)]
            start = time.perf_counter()
            try:
                writer.write(payload)
                status = await _read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            latencies.append((time.perf_counter() - start) * 1000)
            if status >= 400:
                errors += 1
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return errors


def _rotated(payloads: list[bytes], k: int, concurrency: int) -> list[bytes]:
    """``payloads`` starting at the ``k``-th of ``concurrency`` evenly spaced places."""
    offset = k * len(payloads) // concurrency
    return payloads[offset:] + payloads[:offset]


async def run_load(
    name: str,
    host: str,
    port: int,
    requests: list[Request],
    *,
    total: int = 4000,
    concurrency: int = 16,
    warmup: int = 200,
    spread: bool = False,
) -> Result:
    """Replay ``requests`` round-robin: ``total`` requests over ``concurrency`` connections.

    Connection ``k`` starts its round at the ``k``-th of ``concurrency`` evenly spaced places
    in the list, so the requests in flight at one moment differ: replayed in lockstep, the
    same query would be in flight on every connection at once, and the gateway's in-flight
    deduplication (on by default) would answer them all with one subgraph call.

    ``spread`` deals the requests out instead, connection ``k`` taking every
    ``concurrency``-th one from ``k``, so no request is sent twice while ``total`` does not
    exceed their number (reads meant to miss every cache); the warm-up then replays
    requests from the end of the list, which the measured part does not reach."""
    host = _loopback(host)
    payloads = [r.encode(host, port) for r in requests]
    await _worker(host, port, payloads[::-1] if spread else payloads, warmup, [])
    latencies: list[float] = []
    per_worker = max(1, total // concurrency)
    start = time.perf_counter()
    errors = await asyncio.gather(
        *(
            _worker(
                host,
                port,
                payloads[k::concurrency] if spread else _rotated(payloads, k, concurrency),
                per_worker,
                latencies,
            )
            for k in range(concurrency)
        )
    )
    seconds = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return Result(name, len(latencies), sum(errors), seconds, q[49], q[89], q[98])


async def run_open_loop(
    name: str,
    host: str,
    port: int,
    requests: list[Request],
    *,
    rate: float,
    seconds: float,
    max_connections: int = 64,
    warmup: int = 200,
) -> Result:
    """Send ``requests`` round-robin at a fixed arrival rate (open loop) for ``seconds``.

    Request ``i`` is due at ``start + i / rate`` whether or not earlier answers have come back,
    and its latency counts from that due time: a server that falls behind shows it as latency
    (no coordinated omission), not as a lower offered rate. Requests share up to
    ``max_connections`` keep-alive connections; one waiting for a free connection is waiting
    on the server. The result's req/s is the achieved rate (completed requests per second).
    """
    host = _loopback(host)
    payloads = [r.encode(host, port) for r in requests]
    await _worker(host, port, payloads, warmup, [])
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    slots = asyncio.Semaphore(max_connections)
    latencies: list[float] = []
    errors = 0

    async def send(i: int, due: float) -> None:
        nonlocal errors
        async with slots:
            reader, writer = idle.pop() if idle else await asyncio.open_connection(host, port)
            try:
                writer.write(payloads[i % len(payloads)])
                status = await _read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                errors += 1
                writer.close()
                return
            latencies.append((time.perf_counter() - due) * 1000)
            errors += status >= 400
            idle.append((reader, writer))

    total = max(1, round(rate * seconds))
    pending: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.create_task(send(i, due)))
    await asyncio.gather(*pending)
    elapsed = time.perf_counter() - start
    for _, writer in idle:
        writer.close()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return Result(name, len(latencies), errors, elapsed, q[49], q[89], q[98])


# a log line per request would dominate a micro-benchmark
_QUIET = {"EMPORIUM_ACCESS_LOG": "false", "EMPORIUM_LOG_LEVEL": "WARNING"}


def bench_service(name: str, env: Mapping[str, str]) -> ServiceProcess:
    """The service ``name`` as it runs everywhere (``emporium-<name> serve``) on a free
    loopback port, without access logs. Use as a context manager."""
    port = free_port()
    cmd = [sys.executable, "-m", f"emporium_{name}.cli", "serve", "--host", "127.0.0.1"]
    cmd += ["--port", str(port)]
    return ServiceProcess(name, cmd, port=port, env={**env, **_QUIET}, cwd=ROOT)


def bench_server(app: str, env: Mapping[str, str], *, app_dir: str) -> ServiceProcess:
    """A benchmark's own ``module:app`` (a service's app with extra routes) served by the
    kit's ``serve``, as the service would be, on a free loopback port. Use as a context
    manager."""
    port = free_port()
    module, attribute = app.split(":", 1)
    program = (
        f"import sys; sys.path.insert(0, {str(ROOT / app_dir)!r});"
        f" from emporium_kit.app import serve; from {module} import {attribute} as app;"
        f" serve(app, host='127.0.0.1', port={port})"
    )
    cmd = [sys.executable, "-c", program]
    return ServiceProcess(module, cmd, port=port, env={**env, **_QUIET}, cwd=ROOT)


def platform_env(*, test: bool | None = None) -> dict[str, str]:
    """The connection settings of the running local platform (``./emporium up``), or with
    ``test`` of the test instance (``EMPORIUM_TEST_SLOT``, started by
    ``emporium-platform --test up``), so a benchmark can leave the developer's platform alone.
    ``test`` defaults to whether ``EMPORIUM_TEST_SLOT`` is set."""
    if test is None:
        test = bool(os.environ.get(TEST_SLOT_ENV))
    platform = Platform.for_tests(ROOT) if test else Platform(ROOT)
    if not platform.is_ready("ferretdb"):
        command = "emporium-platform --test up redis nats ferretdb" if test else "./emporium up"
        raise SystemExit(f"the platform is not up: run {command} first")
    return platform.env()


@contextlib.contextmanager
def private_nats(*, sync_interval: str | None = None) -> Iterator[str]:
    """A throw-away nats-server with JetStream on free loopback ports, so a benchmark's
    events never reach the platform's streams. ``sync_interval`` sets JetStream's fsync
    policy in a config file (``"always"``: fsync before every PubAck; ``None``: the
    server's default, a flush every 2 minutes)."""
    binary = find_script("nats-server")
    if binary is None:
        raise SystemExit("nats-server not found: run `uv sync`")
    client_port, monitor_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="emporium-bench-nats-") as store:
        command = [str(binary), "-a", "127.0.0.1", "-p", str(client_port)]
        command += ["-m", str(monitor_port), "-js", "-sd", store]
        if sync_interval is not None:
            config = Path(store) / "nats.conf"
            config.write_text(f"jetstream {{ sync_interval: {sync_interval} }}\n")
            command += ["-c", str(config)]
        process = ServiceProcess(
            "nats-bench", command, port=monitor_port, ready_path="/healthz?js-enabled-only=true"
        )
        with process:
            yield f"nats://127.0.0.1:{client_port}"


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB, Python {sys.version.split()[0]}"
