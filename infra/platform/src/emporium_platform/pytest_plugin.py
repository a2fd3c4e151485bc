"""Pytest plugin: the session fixture `platform` gives tests the real local components.

Tests get their own instance (:meth:`Platform.for_tests`: `.platform-test/`, own ports), never
the developer's running platform. The plugin points every `EMPORIUM_*` connection setting of
the test process at that instance before any test module is imported, so even a settings
object built with defaults cannot reach the developer's data or streams. The fixture starts
the infrastructure when it is not running (idempotent, safe across processes) and leaves it
running at the end of the session: whoever runs the tests decides when to stop it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from emporium_platform.core import Platform


@dataclass
class PlatformHandle:
    """What tests need: connection URLs and a way to take a component down and back."""

    platform: Platform

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
