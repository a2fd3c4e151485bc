"""The application services, from the service registry, run under the same supervisord."""

from __future__ import annotations

from emporium_platform import installers
from emporium_platform.components import Component, Program, http_ok
from emporium_platform.config import PlatformConfig
from emporium_platform.installers import Report
from emporium_platform.registry import Registry, Service


def resolve_command(
    words: tuple[str, ...], config: PlatformConfig, registry: Registry, spec: Service
) -> list[str]:
    """Fill the placeholders and turn the first word into the workspace's own executable."""
    expanded = [
        registry.expand(word, spec, host=config.host, python=str(installers.python_binary()))
        for word in words
    ]
    executable = installers.find_script(expanded[0])
    if executable is None:
        raise installers.InstallError(
            f"{spec.name}: `{expanded[0]}` is not installed in {installers.scripts_dir()} "
            "nor on PATH; run `uv sync`"
        )
    return [str(executable), *expanded[1:]]


class AppService(Component):
    kind = "app"
    ready_timeout = 120.0

    def __init__(self, spec: Service, registry: Registry) -> None:
        self.spec = spec
        self.registry = registry
        self.name = spec.name
        self.needs = spec.needs

    def available(self) -> bool:
        """Whether this checkout has the service's command installed (`uv sync` does)."""
        return installers.find_script(self.spec.command[0]) is not None

    def installed(self, config: PlatformConfig) -> bool:
        return self.available()

    def environment(self, config: PlatformConfig) -> dict[str, str]:
        return {
            **config.env(),
            "EMPORIUM_SERVICE_NAME": self.spec.name,
            "EMPORIUM_ENVIRONMENT": "development",
            **self.registry.environment(self.spec.name, host=config.host),
        }

    def program(self, config: PlatformConfig, report: Report) -> Program:
        if self.spec.install:
            command = resolve_command(self.spec.install, config, self.registry, self.spec)
            installers._run(command, cwd=config.root)
        return Program(
            name=self.name,
            command=tuple(resolve_command(self.spec.command, config, self.registry, self.spec)),
            directory=config.root,
            environment=self.environment(config),
            startsecs=2,
            stopwaitsecs=20,
            priority=100,
        )

    def check(self, config: PlatformConfig) -> None:
        http_ok(f"{self.url(config)}{self.spec.readiness}")

    def ports(self, config: PlatformConfig) -> tuple[int, ...]:
        return self.spec.ports

    def url(self, config: PlatformConfig) -> str:
        return self.registry.url(self.spec.name, config.host)

    def links(self, config: PlatformConfig) -> dict[str, str]:
        return self.registry.links(self.spec.name, config.host)

    def seed_command(self, config: PlatformConfig) -> list[str] | None:
        if self.spec.seed is None:
            return None
        return resolve_command(self.spec.seed, config, self.registry, self.spec)
