"""The application services, declared in `services.toml` and run under the same supervisord."""

from __future__ import annotations

import importlib.util
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from emporium_platform import installers
from emporium_platform.components import Component, Program, http_ok
from emporium_platform.config import PlatformConfig
from emporium_platform.installers import Report


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int
    command: tuple[str, ...]
    readiness: str
    requires_module: str | None = None
    seed: tuple[str, ...] | None = None
    needs: tuple[str, ...] = ()
    links: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    # Run before every start; must be idempotent and quick when there is nothing to do.
    install: tuple[str, ...] | None = None
    # One line printed under the service's links after `up` (e.g. its demo sign-ins).
    note: str | None = None

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> ServiceSpec:
        known = {"name", "port", "command", "readiness", "requires_module", "seed", "needs"}
        known |= {"links", "env", "install", "note"}
        if unknown := set(raw) - known:
            raise ValueError(f"service {raw.get('name')!r}: unknown keys {sorted(unknown)}")
        missing = {"name", "port", "command", "readiness"} - set(raw)
        if missing:
            raise ValueError(f"service {raw.get('name')!r}: missing keys {sorted(missing)}")
        if not raw["command"]:
            raise ValueError(f"service {raw['name']!r}: empty command")
        return cls(
            name=str(raw["name"]),
            port=int(raw["port"]),
            command=tuple(str(part) for part in raw["command"]),
            readiness=str(raw["readiness"]),
            requires_module=raw.get("requires_module"),
            seed=tuple(raw["seed"]) if raw.get("seed") else None,
            needs=tuple(raw.get("needs", ())),
            links={str(k): str(v) for k, v in raw.get("links", {}).items()},
            env={str(k): str(v) for k, v in raw.get("env", {}).items()},
            install=tuple(raw["install"]) if raw.get("install") else None,
            note=str(raw["note"]) if raw.get("note") else None,
        )


def load_services(path: Path | None = None) -> list[ServiceSpec]:
    """Read the registry; names and ports must be unique."""
    text = (
        path.read_text()
        if path
        else files("emporium_platform").joinpath("services.toml").read_text()
    )
    specs = [ServiceSpec.from_mapping(raw) for raw in tomllib.loads(text).get("service", [])]
    for attribute in ("name", "port"):
        values = [getattr(spec, attribute) for spec in specs]
        if len(values) != len(set(values)):
            raise ValueError(f"services.toml: duplicate service {attribute}s in {values}")
    return specs


def _expand(part: str, config: PlatformConfig, spec: ServiceSpec) -> str:
    return part.format(
        host=config.host,
        port=spec.port,
        python=installers.python_binary(),
        root=config.root,
    )


def resolve_command(words: tuple[str, ...], config: PlatformConfig, spec: ServiceSpec) -> list[str]:
    """Expand placeholders and turn the first word into the workspace's own executable."""
    expanded = [_expand(word, config, spec) for word in words]
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

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.needs = spec.needs

    def available(self) -> bool:
        """Whether this checkout has the service installed (others may not be written yet)."""
        if self.spec.requires_module is None:
            return installers.find_script(self.spec.command[0]) is not None
        try:
            return importlib.util.find_spec(self.spec.requires_module) is not None
        except ImportError:
            return False

    def installed(self, config: PlatformConfig) -> bool:
        return self.available()

    def environment(self, config: PlatformConfig) -> dict[str, str]:
        return {
            **config.env(),
            "EMPORIUM_SERVICE_NAME": self.spec.name,
            "EMPORIUM_ENVIRONMENT": "development",
            **self.spec.env,
        }

    def program(self, config: PlatformConfig, report: Report) -> Program:
        if self.spec.install:
            installers._run(resolve_command(self.spec.install, config, self.spec), cwd=config.root)
        return Program(
            name=self.name,
            command=tuple(resolve_command(self.spec.command, config, self.spec)),
            directory=config.root,
            environment=self.environment(config),
            startsecs=2,
            stopwaitsecs=20,
            priority=100,
        )

    def check(self, config: PlatformConfig) -> None:
        http_ok(f"{self.url(config)}{self.spec.readiness}")

    def ports(self, config: PlatformConfig) -> tuple[int, ...]:
        others = {int(target[1:].split("/", 1)[0]) for target in self._other_port_links()}
        return (self.spec.port, *sorted(others))

    def url(self, config: PlatformConfig) -> str:
        return f"http://{config.host}:{self.spec.port}"

    def links(self, config: PlatformConfig) -> dict[str, str]:
        """``/path`` links are on the service's port, ``:PORT/path`` ones on another port of
        the same host (the gateway serves its metrics apart from its clients)."""
        return {
            label: f"http://{config.host}{target}"
            if target.startswith(":")
            else f"{self.url(config)}{target}"
            for label, target in self.spec.links.items()
        }

    def _other_port_links(self) -> list[str]:
        return [target for target in self.spec.links.values() if target.startswith(":")]

    def seed_command(self, config: PlatformConfig) -> list[str] | None:
        if self.spec.seed is None:
            return None
        return resolve_command(self.spec.seed, config, self.spec)
