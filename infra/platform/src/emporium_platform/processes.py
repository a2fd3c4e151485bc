"""Run one process serving HTTP on a free loopback port, for tests and benchmarks.

`emporium-platform up` runs each service on its fixed port under supervisord. Tests and
benchmarks need their own instance next to it (own port, own environment), started and
stopped by the test. A suite that runs services uses the harness
(:mod:`emporium_platform.harness`), which builds on these::

    with gateway_process(env={"EMPORIUM_SUBGRAPH_CATALOG_URL": catalog.graphql_url}) as gw:
        httpx.post(gw.graphql_url, json={"query": "{ __typename }"})

A process inherits this process's environment minus every `EMPORIUM_*` variable (a stray
setting in the developer's shell must not change what a test exercises) but
`EMPORIUM_ENV_FILE` (inside a test session it names the test instance's settings, so a child
never falls back to the developer's `.platform/env`), plus `env`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx
from filelock import FileLock

from emporium_platform.config import HOST, find_repo_root
from emporium_platform.installers import InstallError, Report

GATEWAY_DIR_NAME = Path("services") / "gateway"
STOREFRONT_DIR_NAME = Path("services") / "storefront"
LOG_TAIL_CHARS = 4000


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _base_environment() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("EMPORIUM_") or key == "EMPORIUM_ENV_FILE"
    }


class ServiceProcess:
    """One child process serving HTTP on ``host:port``; ready when ``ready_path`` answers 200.

    ``ServiceProcess(name, command, *, port, env=None, cwd=None, ready_path="/readyz",
    host="127.0.0.1", log_dir=None, metrics_port=None)``; ``metrics_port`` when metrics are
    served on a port of their own (the gateway). Output goes to
    ``<log_dir>/emporium-<name>-<port>.log`` (the system temp dir by default; read it with
    :meth:`log_text`). Use as a context manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        port: int,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        ready_path: str = "/readyz",
        host: str = HOST,
        log_dir: Path | None = None,
        metrics_port: int | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.port = port
        self.env = {**_base_environment(), **(env or {})}
        self.cwd = cwd
        self.ready_path = ready_path
        self.host = host
        self.metrics_port = metrics_port
        self._process: subprocess.Popen[bytes] | None = None
        self.log_path = Path(log_dir or tempfile.gettempdir()) / f"emporium-{name}-{port}.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    @property
    def metrics_url(self) -> str:
        """Where Prometheus scrapes: ``/metrics`` on the metrics port, else on ``port``."""
        return f"http://{self.host}:{self.metrics_port or self.port}/metrics"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        """Start the process and return once ``ready_path`` answers 200."""
        if self.running():
            return self
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if not self.running():
                    raise RuntimeError(
                        f"{self.name} exited with {self._process and self._process.returncode}"
                        f" before it was ready:\n{self.log_text()[-LOG_TAIL_CHARS:]}"
                    )
                try:
                    response = client.get(f"{self.url}{self.ready_path}")
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(
            f"{self.name} not ready on {self.url}{self.ready_path} after {timeout:.0f}s "
            f"({last}):\n{self.log_text()[-LOG_TAIL_CHARS:]}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (graceful shutdown), then SIGKILL after ``timeout`` seconds."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def gateway_dir(root: Path | None = None) -> Path:
    return (root or find_repo_root()) / GATEWAY_DIR_NAME


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise InstallError("npm is required for the Node services (`npm` is not on PATH)")
    return npm


def node_binary() -> Path:
    found = shutil.which("node")
    if found is None:
        raise InstallError("Node.js >= 20 is required for the gateway (`node` is not on PATH)")
    return Path(found)


def ensure_gateway_installed(root: Path | None = None, report: Report = print) -> Path:
    """`npm ci` in services/gateway when node_modules is missing or older than the lock file.
    Returns the gateway directory."""
    return ensure_npm_installed(gateway_dir(root), report)


def ensure_npm_installed(directory: Path, report: Report = print) -> Path:
    """`npm ci` in ``directory`` when node_modules is missing or older than the lock file.

    npm's cache is user-level (~/.npm), so a reinstall takes seconds. A file lock keeps two
    test processes from installing at once. Returns the directory.
    """
    lock_file = directory / "package-lock.json"
    marker = directory / "node_modules" / ".package-lock.json"

    def current() -> bool:
        return marker.exists() and marker.stat().st_mtime >= lock_file.stat().st_mtime

    if current():
        return directory
    with FileLock(str(directory / ".npm-install.lock")):
        if current():
            return directory
        npm = _npm()
        report(f"installing the npm packages of {directory.name} (npm ci)")
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline"],
            cwd=directory,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise InstallError(f"npm ci failed in {directory}:\n{result.stderr[-LOG_TAIL_CHARS:]}")
    return directory


def storefront_dir(root: Path | None = None) -> Path:
    return (root or find_repo_root()) / STOREFRONT_DIR_NAME


# What the storefront's production build is made of: a newer file here means a rebuild.
STOREFRONT_BUILD_INPUTS = (
    "src",
    "public",
    "index.html",
    "package-lock.json",
    "vite.config.ts",
    "codegen.ts",
    "tsconfig.app.json",
)


def _newest(paths: Sequence[Path]) -> float:
    times = [
        entry.stat().st_mtime
        for path in paths
        for entry in ([path] if path.is_file() else path.rglob("*"))
        if entry.is_file()
    ]
    return max(times, default=0.0)


def ensure_storefront_built(root: Path | None = None, report: Report = print) -> Path:
    """The storefront's production build (dist/, and dist-ssr/ for the server's renders),
    rebuilt when a source, the lock file or the composed supergraph it is typed against is
    newer (`npm ci`, then `npm run build`: codegen, type check, both bundles and the size
    budget). Returns the storefront directory."""
    directory = ensure_npm_installed(storefront_dir(root), report)
    # the browser's build is written last; the server's render bundle before it
    built = directory / "dist" / "index.html"
    renderer = directory / "dist-ssr" / "entry-server.js"
    inputs = [directory / name for name in STOREFRONT_BUILD_INPUTS]
    inputs.append(gateway_dir(root) / "supergraph.graphql")

    def current() -> bool:
        return renderer.exists() and built.exists() and built.stat().st_mtime >= _newest(inputs)

    if current():
        return directory
    with FileLock(str(directory / ".npm-build.lock")):
        if current():
            return directory
        report("building the storefront (npm run build)")
        result = subprocess.run(
            [_npm(), "run", "build"], cwd=directory, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-LOG_TAIL_CHARS:]
            raise InstallError(f"npm run build failed in {directory}:\n{output}")
    return directory


def storefront_process(
    *, env: Mapping[str, str], port: int | None = None, log_dir: Path | None = None
) -> ServiceProcess:
    """The storefront's production build behind its static server on a free port;
    ``EMPORIUM_GATEWAY_URL`` and ``EMPORIUM_IDENTITY_URL`` in ``env`` say where its APIs are."""
    directory = ensure_storefront_built()
    port = port or free_port()
    return ServiceProcess(
        "storefront",
        [str(node_binary()), str(directory / "scripts" / "serve.mjs"), "--port", str(port)],
        port=port,
        env=dict(env),
        cwd=directory,
        log_dir=log_dir,
    )


def gateway_command(root: Path | None = None, *, host: str = HOST, port: int = 4000) -> list[str]:
    """The command that serves the gateway (its config polls the supergraph file)."""
    directory = gateway_dir(root)
    return [
        str(node_binary()),
        str(directory / "node_modules" / "@graphql-hive" / "gateway" / "dist" / "bin.js"),
        "supergraph",
        "--config-path",
        str(directory / "gateway.config.ts"),
        "--host",
        host,
        "--port",
        str(port),
    ]


def gateway_process(
    *,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    name: str = "gateway",
    root: Path | None = None,
    log_dir: Path | None = None,
) -> ServiceProcess:
    """The gateway (Hive Gateway, Node) on a free port, its metrics on another
    (``metrics_url``); settings by ``EMPORIUM_*`` in ``env`` (docs/gateway.md), e.g.
    ``EMPORIUM_SUBGRAPH_CATALOG_URL``, ``EMPORIUM_JWKS_URL``."""
    directory = ensure_gateway_installed(root)
    port = port or free_port()
    metrics_port = free_port()
    return ServiceProcess(
        name,
        gateway_command(root, port=port),
        port=port,
        env={
            "NODE_ENV": "production",
            "LOG_JSON": "1",
            "EMPORIUM_METRICS_PORT": str(metrics_port),
            **(env or {}),
        },
        cwd=directory,
        log_dir=log_dir,
        metrics_port=metrics_port,
    )


INSTALLS = {
    "install-gateway": ensure_gateway_installed,
    "install-storefront": ensure_storefront_built,
}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m emporium_platform.processes install-gateway|install-storefront``: the
    install steps of the Node services' registry tables."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0] not in INSTALLS:
        usage = "|".join(INSTALLS)
        print(f"usage: python -m emporium_platform.processes {usage}", file=sys.stderr)
        return 2
    try:
        INSTALLS[args[0]]()
    except InstallError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
