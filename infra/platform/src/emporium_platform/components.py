"""The infrastructure components: how each is installed, started and checked for readiness."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from emporium_platform import installers
from emporium_platform.config import PlatformConfig
from emporium_platform.installers import Report

CHECK_TIMEOUT = 2.0


class NotReadyError(Exception):
    """A readiness check failed; the message says what was observed."""


@dataclass(frozen=True)
class Program:
    """One supervisord `[program:x]` section."""

    name: str
    command: tuple[str, ...]
    directory: Path
    environment: dict[str, str] = field(default_factory=dict)
    # Seconds a process must stay up before supervisord calls it RUNNING.
    startsecs: int = 1
    startretries: int = 2
    stopwaitsecs: int = 10
    priority: int = 100


class Component(ABC):
    """Something the platform runs under supervisord and waits on until it is ready."""

    name: str
    kind: str
    ready_timeout: float = 60.0
    # Components that must be ready before this one starts (`up` brings them up first).
    needs: tuple[str, ...] = ()
    # Components started and stopped together by one name (`up k8s`).
    group: str | None = None

    @abstractmethod
    def program(self, config: PlatformConfig, report: Report) -> Program:
        """Install what is missing, prepare data folders, return the supervisord program."""

    @abstractmethod
    def check(self, config: PlatformConfig) -> None:
        """Return when the component serves requests; raise NotReadyError otherwise."""

    @abstractmethod
    def ports(self, config: PlatformConfig) -> tuple[int, ...]:
        """Every TCP port the component binds on the platform host."""

    @abstractmethod
    def url(self, config: PlatformConfig) -> str:
        """Where clients reach it."""

    @abstractmethod
    def installed(self, config: PlatformConfig) -> bool:
        """Cheap check: can `program` run without installing anything?"""

    def diagnose(self, config: PlatformConfig, log_text: str) -> str | None:
        """A precise failure reason read from the component's log, when one is known."""
        return None

    def before_start(self, config: PlatformConfig) -> None:  # noqa: B027 - most need nothing
        """Runs when everything in `needs` is ready, right before the process starts."""

    def links(self, config: PlatformConfig) -> dict[str, str]:
        """Where to reach more of it, printed after `up`."""
        return {}


class Redis(Component):
    name = "redis"
    kind = "infra"
    ready_timeout = 30.0

    def installed(self, config: PlatformConfig) -> bool:
        return installers.find_redis() is not None

    def program(self, config: PlatformConfig, report: Report) -> Program:
        binary = installers.ensure_redis(report)
        data = config.data_dir / self.name
        data.mkdir(parents=True, exist_ok=True)
        return Program(
            name=self.name,
            command=(
                str(binary),
                "--bind",
                config.host,
                "--port",
                str(config.ports.redis),
                "--dir",
                str(data),
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                "--save",
                "60 1",
                "--appendonly",
                "yes",
                "--logfile",
                "",
            ),
            directory=data,
            priority=10,
        )

    def check(self, config: PlatformConfig) -> None:
        client = redis.Redis(
            host=config.host,
            port=config.ports.redis,
            socket_timeout=CHECK_TIMEOUT,
            socket_connect_timeout=CHECK_TIMEOUT,
        )
        try:
            if not client.ping():
                raise NotReadyError("PING did not answer PONG")
        except redis.RedisError as exc:
            raise NotReadyError(f"PING failed: {exc}") from exc
        finally:
            client.close()

    def ports(self, config: PlatformConfig) -> tuple[int, ...]:
        return (config.ports.redis,)

    def url(self, config: PlatformConfig) -> str:
        return config.redis_url


class Nats(Component):
    name = "nats"
    kind = "infra"
    ready_timeout = 30.0

    def installed(self, config: PlatformConfig) -> bool:
        return installers.find_script("nats-server") is not None

    def program(self, config: PlatformConfig, report: Report) -> Program:
        binary = installers.ensure_nats(report)
        store = config.data_dir / self.name
        if not store.exists():
            store.mkdir(parents=True)
        return Program(
            name=self.name,
            command=(
                str(binary),
                "-js",
                "-sd",
                str(store),
                "-a",
                config.host,
                "-p",
                str(config.ports.nats),
                "-m",
                str(config.ports.nats_monitor),
                "-n",
                "emporium-local",
            ),
            directory=config.state_dir,
            priority=10,
        )

    def check(self, config: PlatformConfig) -> None:
        url = f"http://{config.host}:{config.ports.nats_monitor}/healthz?js-enabled-only=true"
        http_ok(url)

    def ports(self, config: PlatformConfig) -> tuple[int, ...]:
        return (config.ports.nats, config.ports.nats_monitor)

    def url(self, config: PlatformConfig) -> str:
        return config.nats_url


class FerretDB(Component):
    name = "ferretdb"
    kind = "infra"
    ready_timeout = 60.0

    def installed(self, config: PlatformConfig) -> bool:
        return installers.ferretdb_binary(config.cache_dir).exists()

    def program(self, config: PlatformConfig, report: Report) -> Program:
        binary = installers.ensure_ferretdb(config.cache_dir, report)
        data = config.data_dir / self.name
        state = config.data_dir / "ferretdb-state"
        data.mkdir(parents=True, exist_ok=True)
        state.mkdir(parents=True, exist_ok=True)
        return Program(
            name=self.name,
            command=(
                str(binary),
                "--handler=sqlite",
                f"--sqlite-url=file:{data}/",
                f"--listen-addr={config.host}:{config.ports.mongo}",
                f"--debug-addr={config.host}:{config.ports.ferretdb_debug}",
                f"--state-dir={state}",
                "--telemetry=disable",
                "--log-level=INFO",
            ),
            directory=state,
            priority=20,
        )

    def check(self, config: PlatformConfig) -> None:
        client: MongoClient[dict[str, object]] = MongoClient(
            config.mongo_url,
            serverSelectionTimeoutMS=int(CHECK_TIMEOUT * 1000),
            connectTimeoutMS=int(CHECK_TIMEOUT * 1000),
            socketTimeoutMS=int(CHECK_TIMEOUT * 1000),
        )
        try:
            reply = client.admin.command("ping")
        except PyMongoError as exc:
            raise NotReadyError(f"Mongo ping failed: {exc}") from exc
        finally:
            client.close()
        if reply.get("ok") != 1:
            raise NotReadyError(f"Mongo ping answered {reply}")

    def ports(self, config: PlatformConfig) -> tuple[int, ...]:
        return (config.ports.mongo, config.ports.ferretdb_debug)

    def url(self, config: PlatformConfig) -> str:
        return config.mongo_url


OPENSEARCH_MAX_HTTP_PORT = 9299
_HTTP_PORT_LINE = re.compile(r"^HTTP Port:\s+(\d+)", re.MULTILINE)


class OpenSearch(Component):
    name = "opensearch"
    kind = "infra"
    ready_timeout = 240.0

    def installed(self, config: PlatformConfig) -> bool:
        return installers.opensearch_installed(config.cache_dir)

    def program(self, config: PlatformConfig, report: Report) -> Program:
        if not 1 < config.ports.opensearch <= OPENSEARCH_MAX_HTTP_PORT:
            # The runner probes ports from base+1 up to a fixed 9299 and exits silently above.
            raise ValueError(
                f"OpenSearch Runner serves HTTP only on ports up to {OPENSEARCH_MAX_HTTP_PORT}, "
                f"not {config.ports.opensearch}"
            )
        lib = installers.ensure_opensearch(config.cache_dir, report)
        java = installers.java_binary()
        base = config.data_dir / self.name
        conf_dir = base / "node_1" / "config"
        conf_dir.mkdir(parents=True, exist_ok=True)
        # The runner copies its own opensearch.yml only when none exists, and offers no
        # command-line switch for node settings, so ours is written before every start.
        (conf_dir / "opensearch.yml").write_text(opensearch_yml(config))
        return Program(
            name=self.name,
            command=(
                str(java),
                "-Xms512m",
                "-Xmx1g",
                "-Djava.awt.headless=true",
                "-cp",
                f"{lib}/*",
                "org.codelibs.opensearch.runner.OpenSearchRunner",
                "-numOfNode",
                "1",
                # HTTP port = base + node number (1).
                "-baseHttpPort",
                str(config.ports.opensearch - 1),
                "-basePath",
                str(base),
                "-clusterName",
                "emporium-local",
                "-printOnFailure",
            ),
            directory=base,
            startsecs=3,
            stopwaitsecs=40,
            priority=30,
        )

    def check(self, config: PlatformConfig) -> None:
        url = f"{config.opensearch_url}/_cluster/health"
        try:
            response = httpx.get(url, timeout=CHECK_TIMEOUT)
        except httpx.HTTPError as exc:
            raise NotReadyError(f"GET {url} failed: {exc!r}") from exc
        if response.status_code != 200:
            raise NotReadyError(f"GET {url} answered {response.status_code}")
        status = response.json().get("status")
        if status not in {"yellow", "green"}:
            raise NotReadyError(f"cluster health is {status}")

    def ports(self, config: PlatformConfig) -> tuple[int, ...]:
        return (config.ports.opensearch, config.ports.opensearch_transport)

    def url(self, config: PlatformConfig) -> str:
        return config.opensearch_url

    def diagnose(self, config: PlatformConfig, log_text: str) -> str | None:
        # The runner silently moves to the next free port when its port is taken.
        printed = _HTTP_PORT_LINE.findall(log_text)
        if printed and int(printed[-1]) != config.ports.opensearch:
            return (
                f"OpenSearch bound HTTP port {printed[-1]} instead of {config.ports.opensearch} "
                f"(port {config.ports.opensearch} was taken when it started)"
            )
        return None


def opensearch_yml(config: PlatformConfig) -> str:
    settings = {
        "network.host": config.host,
        "transport.port": str(config.ports.opensearch_transport),
        "discovery.type": "single-node",
        # Local disks run full; never flip indices to read-only because of it.
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "action.destructive_requires_name": "false",
    }
    return "".join(f"{key}: {value}\n" for key, value in settings.items())


class StripeMock(Component):
    """Stripe's API stand-in: stateless canned answers in Stripe's real formats (no webhooks;
    the payment service relays its own, signed as Stripe signs them)."""

    name = "stripe-mock"
    kind = "infra"
    ready_timeout = 30.0

    def installed(self, config: PlatformConfig) -> bool:
        return installers.STRIPE_MOCK.binary(config.cache_dir).exists()

    def program(self, config: PlatformConfig, report: Report) -> Program:
        binary = installers.ensure_go_tool(installers.STRIPE_MOCK, config.cache_dir, report)
        # Both listeners on loopback: one left unnamed binds every interface.
        return Program(
            name=self.name,
            command=(
                str(binary),
                "-http-addr",
                f"{config.host}:{config.ports.stripe_mock}",
                "-https-addr",
                f"{config.host}:{config.ports.stripe_mock_https}",
            ),
            directory=config.state_dir,
            priority=20,
        )

    def check(self, config: PlatformConfig) -> None:
        url = f"{config.stripe_api_base}/v1/balance"
        try:
            response = httpx.get(
                url, headers={"Authorization": "Bearer sk_test_local"}, timeout=CHECK_TIMEOUT
            )
        except httpx.HTTPError as exc:
            raise NotReadyError(f"GET {url} failed: {exc!r}") from exc
        if response.status_code != 200:
            raise NotReadyError(f"GET {url} answered {response.status_code}")

    def ports(self, config: PlatformConfig) -> tuple[int, ...]:
        return (config.ports.stripe_mock, config.ports.stripe_mock_https)

    def url(self, config: PlatformConfig) -> str:
        return config.stripe_api_base


class Mailpit(Component):
    """The mail catcher: an SMTP server keeping every message, with a web UI and an HTTP API
    (the tests read the mails there)."""

    name = "mailpit"
    kind = "infra"
    ready_timeout = 30.0

    def installed(self, config: PlatformConfig) -> bool:
        return installers.MAILPIT.binary(config.cache_dir).exists()

    def program(self, config: PlatformConfig, report: Report) -> Program:
        binary = installers.ensure_go_tool(installers.MAILPIT, config.cache_dir, report)
        data = config.data_dir / self.name
        data.mkdir(parents=True, exist_ok=True)
        return Program(
            name=self.name,
            command=(
                str(binary),
                "--smtp",
                f"{config.host}:{config.ports.mailpit_smtp}",
                "--listen",
                f"{config.host}:{config.ports.mailpit_http}",
                "--database",
                str(data / "mailpit.db"),
                # local only: the SMTP server takes any login and needs no TLS
                "--smtp-auth-accept-any",
                "--smtp-auth-allow-insecure",
                "--disable-version-check",
            ),
            directory=data,
            priority=20,
        )

    def check(self, config: PlatformConfig) -> None:
        http_ok(f"{config.mailpit_url}/api/v1/info")

    def ports(self, config: PlatformConfig) -> tuple[int, ...]:
        return (config.ports.mailpit_smtp, config.ports.mailpit_http)

    def url(self, config: PlatformConfig) -> str:
        return config.smtp_url

    def links(self, config: PlatformConfig) -> dict[str, str]:
        return {"web UI and API": config.mailpit_url}


def http_ok(url: str) -> None:
    try:
        response = httpx.get(url, timeout=CHECK_TIMEOUT)
    except httpx.HTTPError as exc:
        raise NotReadyError(f"GET {url} failed: {exc!r}") from exc
    if response.status_code != 200:
        raise NotReadyError(f"GET {url} answered {response.status_code}: {response.text[:200]}")


INFRA: tuple[Component, ...] = (
    Redis(),
    Nats(),
    FerretDB(),
    OpenSearch(),
    StripeMock(),
    Mailpit(),
)
