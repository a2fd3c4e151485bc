"""Pytest plugin: the session fixture `platform` gives tests the real local components, and
`stacks` runs services on them as real processes (:mod:`emporium_platform.harness`).

Tests get their own instance (:meth:`Platform.for_tests`: `.platform-test/`, own ports), never
the developer's running platform. The plugin points every `EMPORIUM_*` connection setting of
the test process at that instance before any test module is imported, so even a settings
object built with defaults cannot reach the developer's data or streams. The fixture starts
the infrastructure when it is not running (idempotent, safe across processes) and leaves it
running at the end of the session: whoever runs the tests decides when to stop it.

The session fixture `k8s_cluster` gives the `cluster` tier a Kubernetes API server: a private
instance of the local control plane (`up k8s`) in a temporary folder, or an existing cluster
named by `EMPORIUM_CLUSTER_KUBECONFIG`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from emporium_platform import installers
from emporium_platform.config import HOST, PlatformConfig, Ports, default_cache_dir
from emporium_platform.core import Platform
from emporium_platform.harness import Stack

CLUSTER_KUBECONFIG_ENV = "EMPORIUM_CLUSTER_KUBECONFIG"
CLUSTER_MARKER = "cluster"


@dataclass
class PlatformHandle:
    """What tests need: connection URLs and a way to take a component down and back."""

    platform: Platform

    @property
    def config(self) -> PlatformConfig:
        return self.platform.config

    @property
    def mongo_url(self) -> str:
        return self.platform.config.mongo_url

    @property
    def redis_url(self) -> str:
        return self.platform.config.redis_url

    @property
    def nats_url(self) -> str:
        return self.platform.config.nats_url

    @property
    def opensearch_url(self) -> str:
        return self.platform.config.opensearch_url

    def env(self) -> dict[str, str]:
        return self.platform.env()

    def stop(self, component: str) -> None:
        """Stop a component (e.g. "redis", "nats", "ferretdb", "opensearch")."""
        self.platform.stop(component)

    def start(self, component: str) -> None:
        """Start it again and return once it is ready."""
        self.platform.start(component)

    def is_ready(self, component: str) -> bool:
        return self.platform.is_ready(component)


def _quiet(_message: str) -> None:
    """Installs and starts report nothing inside a test session."""


def pytest_configure(config: pytest.Config) -> None:
    instance = Platform.for_tests(report=_quiet)
    os.environ.update(instance.env())
    os.environ["EMPORIUM_ENV_FILE"] = str(instance.config.env_file)


@pytest.fixture(scope="session")
def platform() -> Iterator[PlatformHandle]:
    instance = Platform.for_tests(report=_quiet)
    instance.up(infra_only=True)
    handle = PlatformHandle(instance)
    yield handle
    # A test that stopped a component and failed before starting it again must not leave
    # the shared platform broken for the next run.
    for name in instance.infra:
        if not instance.is_ready(name):
            instance.start(name)


# the test being set up (its fixtures start stacks), and the stacks still open with the suite
# directory each belongs to
_CURRENT_ITEM = pytest.StashKey[pytest.Item]()
_SUITE_STACKS = pytest.StashKey[list[tuple[Path, Stack]]]()


def _suite_of(item: pytest.Item) -> Path:
    """The suite ``item`` belongs to: the nearest directory above it with a ``conftest.py``
    (where a suite's fixtures live), below the root."""
    root = item.config.rootpath
    for parent in item.path.parents:
        if parent == root:
            break
        if (parent / "conftest.py").exists():
            return parent
    return item.path.parent


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.config.stash[_CURRENT_ITEM] = item


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Close every stack whose suite the run has left: its processes stop and its data goes
    as soon as the suite's last test is done, not at the end of the session."""
    open_stacks = item.config.stash.get(_SUITE_STACKS, [])
    for suite, stack in list(open_stacks):
        if nextitem is None or suite not in nextitem.path.parents:
            stack.close()
            open_stacks.remove((suite, stack))


@pytest.fixture(scope="session")
def stacks(
    platform: PlatformHandle,
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
) -> Iterator[Callable[..., Stack]]:
    """``stacks(label, *, jwks_url=None, env=None, gateway_env=None) -> Stack``: services of
    one suite as real processes on the test platform, with gateways in front. Use the stack
    as a context manager in the suite's session fixture. The plugin closes it (processes
    stopped, its databases and indices deleted) once the run leaves the directory of the
    suite that opened it, the nearest one with a ``conftest.py``: held to the end of the
    session, every suite's services would keep their relays, consumers and pruners working on
    the shared test datastores under each later suite. Closing again does nothing, so the
    suite fixture's own exit at the end of the session is harmless."""
    made: list[Stack] = []
    open_stacks = pytestconfig.stash.setdefault(_SUITE_STACKS, [])

    def make(label: str, **options: Any) -> Stack:
        stack = Stack(platform, label=label, log_dir=tmp_path_factory.mktemp(label), **options)
        made.append(stack)
        if (item := pytestconfig.stash.get(_CURRENT_ITEM, None)) is not None:
            open_stacks.append((_suite_of(item), stack))
        return stack

    yield make
    for stack in reversed(made):
        stack.close()


@dataclass(frozen=True)
class KubeCluster:
    """A Kubernetes cluster for tests: its admin kubeconfig and the kubectl and helm to use."""

    kubeconfig: Path
    tools: Path

    @property
    def kubectl(self) -> Path:
        return self.tools / "kubectl"

    @property
    def helm(self) -> Path:
        return self.tools / "helm"


def _free_control_plane_ports() -> Ports:
    """Ports nothing listens on right now for each control plane process (the OS picks them)."""
    names = (
        "k8s_etcd",
        "k8s_etcd_peer",
        "k8s_api",
        "k8s_controller_manager",
        "k8s_scheduler",
        "k8s_kwok",
    )
    with ExitStack() as stack:
        picked = {}
        for name in names:
            sock = stack.enter_context(socket.socket())
            sock.bind((HOST, 0))
            picked[name] = int(sock.getsockname()[1])
    return replace(Ports(), **picked)


@pytest.fixture(scope="session")
def k8s_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    """A Kubernetes API server for the session.

    By default a private control plane in its own state folder on free ports, stopped when the
    session ends: a developer's `up k8s` (in `.platform/`) is never touched and two test runs do
    not share one. `EMPORIUM_CLUSTER_KUBECONFIG` runs the tests against that cluster instead.
    """
    cache_dir = default_cache_dir()
    tools = installers.ensure_kube_tools(cache_dir, report=lambda message: None)
    if existing := os.environ.get(CLUSTER_KUBECONFIG_ENV):
        yield KubeCluster(Path(existing), tools)
        return
    instance = Platform(
        tmp_path_factory.mktemp("k8s"),
        ports=_free_control_plane_ports(),
        cache_dir=cache_dir,
        report=lambda message: None,
    )
    try:
        instance.up(["k8s"])
        yield KubeCluster(instance.config.kubeconfig, tools)
    finally:
        instance.down()


def pytest_collection_finish(session: pytest.Session) -> None:
    """A fresh machine builds the control plane (a few minutes) here, before the first
    `cluster` test runs, instead of inside that test's timeout."""
    if session.config.option.collectonly or os.environ.get(CLUSTER_KUBECONFIG_ENV):
        return
    if not any(item.get_closest_marker(CLUSTER_MARKER) for item in session.items):
        return
    cache_dir = default_cache_dir()
    if installers.control_plane_installed(cache_dir):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    write = reporter.write_line if reporter else print
    try:
        installers.ensure_control_plane(cache_dir, write)
    except installers.InstallError as exc:
        write(f"building the Kubernetes control plane failed (the cluster tests fail): {exc}")
