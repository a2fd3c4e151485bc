"""Pytest plugin: the session fixture `platform` gives tests the real local components, and
`stacks` runs services on them as real processes (:mod:`emporium_platform.harness`).

Tests get their own instance (:meth:`Platform.for_tests`: `.platform-test/`, own ports), never
the developer's running platform. The plugin points every `EMPORIUM_*` connection setting of
the test process at that instance before any test module is imported, so even a settings
object built with defaults cannot reach the developer's data or streams. The fixture starts
the infrastructure when it is not running (idempotent, safe across processes) and leaves it
running at the end of the session: whoever runs the tests decides when to stop it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from emporium_platform.config import PlatformConfig
from emporium_platform.core import Platform
from emporium_platform.harness import Stack


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


@pytest.fixture(scope="session")
def stacks(
    platform: PlatformHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Stack]]:
    """``stacks(label, *, jwks_url=None, env=None, gateway_env=None) -> Stack``: services of
    one suite as real processes on the test platform, with gateways in front. Use the stack
    as a context manager in the suite's fixture, so it stops when the suite's fixtures
    finalize; any stack still open is closed at the end of the session (processes stopped,
    its databases and indices deleted)."""
    made: list[Stack] = []

    def make(label: str, **options: Any) -> Stack:
        stack = Stack(platform, label=label, log_dir=tmp_path_factory.mktemp(label), **options)
        made.append(stack)
        return stack

    yield make
    for stack in reversed(made):
        stack.close()
