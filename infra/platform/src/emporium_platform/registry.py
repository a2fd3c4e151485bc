"""The service registry: one table per service, in the service's own project manifest.

A service is a folder ``services/<name>`` whose manifest holds its registry table:
``[tool.emporium.service]`` in ``pyproject.toml`` (a Python service) or ``"emporium":
{"service": {...}}`` in ``package.json`` (a Node one). A workspace package without a table
(the kit, a package that is not a service yet) is not a service. Everything that lists
services derives from these tables (docs/adding-a-service.md):

- at run time: the local platform's app services, the Tiltfile, the CI matrices, the chart
  tests' and the workflow tests' service lists;
- as committed files this module writes (``emporium-registry generate``) and checks
  (``emporium-registry check``, a unit test): the gateway's ``subgraphs.json``, the umbrella
  chart's ``registry.yaml``, the root project's workspace dependencies and README's table.

::

    emporium-registry list                # the services
    emporium-registry check               # validate; fail when a generated file is stale
    emporium-registry generate            # rewrite the generated files
    emporium-registry dev-loop            # JSON for the Tiltfile
    emporium-registry plan < changed.json # GitHub Actions outputs for a list of changed files
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from emporium_platform.config import HOST, Ports, find_repo_root

SERVICES_DIR = "services"
NAME = re.compile(r"^[a-z][a-z0-9]{1,30}$")
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
GENERATE = "uv run emporium-registry generate"

# What a service may need, and what each becomes on the local platform (the component it
# starts) and in the chart (a Datastore the operator provisions; NATS runs as a cluster of its
# own, so it only opens the way to it: `nats: true`). `stripe` and `smtp` are third parties:
# locally stripe-mock and Mailpit, in production the provider and the mail relay the chart's
# settings name.
DATASTORES = ("mongo", "redis", "nats", "opensearch", "stripe", "smtp")
PLATFORM_COMPONENTS = {
    "mongo": "ferretdb",
    "redis": "redis",
    "nats": "nats",
    "opensearch": "opensearch",
    "stripe": "stripe-mock",
    "smtp": "mailpit",
}
CHART_ENGINES = {"mongo": "mongodb", "redis": "redis", "opensearch": "opensearch"}


@dataclass(frozen=True)
class Kind:
    """What a kind of service is everywhere: how its image is built and configured, whether
    the gateway routes to it, and how the local platform runs it by default."""

    name: str
    chart_kind: str  # the chart's `kind`: subgraph (the gateway calls it), gateway or web
    runtime: str  # the chart's `runtime`: which server settings its container gets
    container_port: int  # where its image listens
    dockerfile: str  # from the repository root; {name} is the service's name
    build_args: Mapping[str, str]
    subgraph: bool  # composed into the supergraph and routed to by the gateway
    # the local platform's command when the table names none ({name} as above)
    command: tuple[str, ...] | None
    links: Mapping[str, str]
    metrics: bool = True  # serves Prometheus metrics (on `port` or `metrics_port`)


KINDS = {
    kind.name: kind
    for kind in (
        # A Python FastAPI + Ariadne federated subgraph, run as `emporium-<name> serve`.
        Kind(
            name="subgraph",
            chart_kind="subgraph",
            runtime="python",
            container_port=8080,
            dockerfile="services/python.Dockerfile",
            build_args={"SERVICE": "{name}"},
            subgraph=True,
            command=("emporium-{name}", "serve", "--host", "{host}", "--port", "{port}"),
            links={"graphql": "/graphql"},
        ),
        # The Node federation gateway, with a Dockerfile of its own.
        Kind(
            name="gateway",
            chart_kind="gateway",
            runtime="node",
            container_port=4000,
            dockerfile="services/{name}/Dockerfile",
            build_args={},
            subgraph=False,
            command=None,
            links={"graphql": "/graphql"},
        ),
        # A browser app: its production build behind a static file server (Node) with a
        # Dockerfile of its own. Browsers load it and then talk to the gateway; the ingress
        # routes it together with the gateway.
        Kind(
            name="web",
            chart_kind="web",
            runtime="node",
            container_port=8080,
            dockerfile="services/{name}/Dockerfile",
            build_args={},
            subgraph=False,
            command=None,
            links={"shop": "/"},
            metrics=False,
        ),
    )
}

# The image that is not a service: the datastore operator (built and scanned like the others).
OPERATOR_IMAGE = {
    "image": "datastore-operator",
    "dockerfile": "operators/datastore/Dockerfile",
    "build_args": "",
}

KEYS = {
    "name",
    "kind",
    "port",
    "datastores",
    "calls",
    "schema",
    "command",
    "install",
    "seed",
    "readiness",
    "metrics_port",
    "links",
    "env",
    "test_env",
    "note",
}


class RegistryError(ValueError):
    """The registry tables are invalid; ``problems`` names each problem with its file."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("service registry:\n" + "\n".join(f"  - {p}" for p in self.problems))


@dataclass(frozen=True)
class Service:
    name: str
    kind: Kind
    port: int
    manifest: Path
    description: str
    datastores: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()
    schema: str | None = None  # SDL files, relative to the folder; '*' in the file name only
    command: tuple[str, ...] = ()
    # Run before every start; must be idempotent and quick when there is nothing to do.
    install: tuple[str, ...] | None = None
    seed: tuple[str, ...] | None = None
    readiness: str = "/readyz"
    metrics_port: int | None = None  # metrics on a port of their own (else on `port`)
    links: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    note: str | None = None  # one line printed under the service's links after `up`
    # What a test stack (emporium_platform.harness) adds to `env`: names unique to the session
    # and test defaults; {session}, {host}, {port} and {url[NAME]} (a service started earlier in
    # the stack).
    test_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return self.manifest.parent

    @property
    def needs(self) -> tuple[str, ...]:
        """The local platform's components it needs."""
        return tuple(PLATFORM_COMPONENTS[store] for store in self.datastores)

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.port, self.metrics_port) if self.metrics_port else (self.port,)

    @property
    def dockerfile(self) -> str:
        return self.kind.dockerfile.format(name=self.name)

    @property
    def build_args(self) -> dict[str, str]:
        return {key: value.format(name=self.name) for key, value in self.kind.build_args.items()}


@dataclass(frozen=True)
class Registry:
    root: Path
    # start order: a service after the services it calls, the gateway last
    services: Mapping[str, Service]

    def __iter__(self) -> Iterator[Service]:
        return iter(self.services.values())

    def __getitem__(self, name: str) -> Service:
        return self.services[name]

    @property
    def subgraphs(self) -> list[Service]:
        return [s for s in self if s.kind.subgraph]

    @property
    def web(self) -> list[Service]:
        """The browser apps (kind web)."""
        return [s for s in self if s.kind.name == "web"]

    @property
    def gateway(self) -> Service | None:
        return next((s for s in self if s.kind.name == "gateway"), None)

    def calls(self, name: str) -> tuple[str, ...]:
        """Whom a service calls over HTTP: its table's `calls`; a gateway calls every subgraph."""
        service = self.services[name]
        calls = set(service.calls)
        if service.kind.name == "gateway":
            calls |= {s.name for s in self.subgraphs}
        return tuple(sorted(calls))

    def url(self, name: str, host: str = HOST) -> str:
        return f"http://{host}:{self.services[name].port}"

    def expand(self, text: str, service: Service, *, host: str = HOST, **extra: str) -> str:
        """Fill ``{host}``, ``{port}``, ``{dir}`` (the service's folder) and ``{url[NAME]}``
        (another service's local base URL), plus ``extra`` (the platform's ``{python}``)."""
        urls = {name: self.url(name, host) for name in self.services}
        return text.format(host=host, port=service.port, dir=service.directory, url=urls, **extra)

    def environment(self, name: str, host: str = HOST) -> dict[str, str]:
        """A service's own settings on the local platform: its Mongo database (named as the
        service, as in the chart), its metrics port, then its table's `env`."""
        service = self.services[name]
        env: dict[str, str] = {}
        if "mongo" in service.datastores:
            env["EMPORIUM_MONGO_DATABASE"] = name
        if service.metrics_port:
            env["EMPORIUM_METRICS_PORT"] = str(service.metrics_port)
        env.update({k: self.expand(v, service, host=host) for k, v in service.env.items()})
        return env

    def links(self, name: str, host: str = HOST) -> dict[str, str]:
        service = self.services[name]
        base = self.url(name, host)
        links = {label: base + path for label, path in service.kind.links.items()}
        if service.kind.metrics:
            links["metrics"] = (
                f"http://{host}:{service.metrics_port}/metrics"
                if service.metrics_port
                else f"{base}/metrics"
            )
        links.update({label: base + path for label, path in service.links.items()})
        return links

    # ---- derived files -------------------------------------------------------------------

    def subgraphs_json(self) -> str:
        """The gateway's subgraph list (services/<gateway>/subgraphs.json) for compose.mjs."""
        gateway = self.gateway
        assert gateway is not None
        entries = [
            {
                "name": s.name,
                "schema": os.path.relpath(s.directory / str(s.schema), gateway.directory),
                "url": f"{self.url(s.name)}/graphql",
            }
            for s in self.subgraphs
        ]
        document = {
            "$comment": (
                f"Generated by `{GENERATE}` from the services' registry tables: do not edit. "
                "Subgraphs composed into supergraph.graphql. schema: SDL files, relative to "
                "this file, '*' allowed in the file name only. url: the local routing URL; "
                "deployments override it at runtime with EMPORIUM_SUBGRAPH_<NAME>_URL "
                "(see docs/gateway.md)."
            ),
            "subgraphs": entries,
        }
        return json.dumps(document, indent=2) + "\n"

    def chart_values(self) -> str:
        """charts/emporium/registry.yaml: what the chart needs of each service; the values'
        services.<name> blocks are merged over it."""
        services: dict[str, Any] = {}
        for service in self:
            block: dict[str, Any] = {
                "kind": service.kind.chart_kind,
                "runtime": service.kind.runtime,
                "port": service.kind.container_port,
            }
            if calls := self.calls(service.name):
                block["calls"] = list(calls)
            if "nats" in service.datastores:
                block["nats"] = True
            engines = {
                CHART_ENGINES[store]: {"enabled": True}
                for store in service.datastores
                if store in CHART_ENGINES
            }
            if engines:
                block["datastores"] = engines
            services[service.name] = block
        header = (
            f"# Generated by `{GENERATE}` from the services' registry tables\n"
            "# (docs/adding-a-service.md): do not edit. Every service of the release is here;\n"
            "# the blocks of values.yaml (services.<name>) are merged over these.\n"
        )
        return header + yaml.safe_dump({"services": services}, sort_keys=True)

    def readme_table(self) -> str:
        rows = ["| service | port | what it owns |", "|---|---|---|"]
        for service in sorted(self, key=lambda s: (s.kind.name != "gateway", s.name)):
            port = str(service.port)
            if service.metrics_port:
                port += f" (metrics {service.metrics_port})"
            # "Emporium catalog service: products, ..." -> "products, ..."
            summary = re.sub(r"^Emporium [a-z0-9]+( service)?: ", "", service.description)
            rows.append(f"| {service.name} | {port} | {summary} |")
        return "\n".join(rows) + "\n"

    def dev_loop(self) -> dict[str, Any]:
        """What the Tiltfile builds, deploys and forwards."""
        services = []
        for service in self:
            schema = (
                os.path.relpath((service.directory / str(service.schema)).parent, self.root)
                if service.schema
                else None
            )
            services.append(
                {
                    "name": service.name,
                    "dockerfile": service.dockerfile,
                    "build_args": service.build_args,
                    "local_port": service.port,
                    "container_port": service.kind.container_port,
                    "schema": schema,
                    "manifest": os.path.relpath(service.manifest, self.root),
                    "gateway": service.kind.name == "gateway",
                }
            )
        return {"services": services}

    def plan(self, changed: Iterable[str]) -> dict[str, Any]:
        """What CI runs for a change (a list of changed paths):

        - ``services``: the Python services whose own tests run (their folder changed, or
          something every service depends on);
        - ``cross``: whether the cross-service suite runs (services/tests, the gateway's tests):
          any change in a folder under services/ or to what every service depends on;
        - ``images``: the images to build, each with its Dockerfile and build arguments.
        """
        paths = list(changed)

        def touched(*inputs: str) -> bool:
            return any(
                path == item or (item.endswith("/") and path.startswith(item))
                for path in paths
                for item in inputs
            )

        shared = touched(*TEST_INPUTS)
        tested = [
            s.name
            for s in self
            if s.kind.runtime != "node" and (shared or touched(f"{SERVICES_DIR}/{s.name}/"))
        ]
        images = []
        for service in self:
            inputs = [f"{SERVICES_DIR}/{service.name}/", service.dockerfile, *IMAGE_INPUTS]
            if service.kind.runtime != "node":
                inputs += PYTHON_IMAGE_INPUTS
            if touched(*inputs):
                images.append(
                    {
                        "image": service.name,
                        "dockerfile": service.dockerfile,
                        "build_args": "\n".join(f"{k}={v}" for k, v in service.build_args.items()),
                    }
                )
        if touched("operators/datastore/", *IMAGE_INPUTS, *PYTHON_IMAGE_INPUTS):
            images.append(dict(OPERATOR_IMAGE))
        # any folder under services/ (a service, the kit, the tests, a package to be one)
        in_a_folder = any(p.startswith(f"{SERVICES_DIR}/") and p.count("/") >= 2 for p in paths)
        return {"services": tested, "cross": shared or in_a_folder, "images": images}

    def generated(self) -> dict[Path, str]:
        """Every generated file with the text it must have."""
        files: dict[Path, str] = {}
        if self.gateway is not None:
            files[self.gateway.directory / "subgraphs.json"] = self.subgraphs_json()
        files[self.root / "charts" / "emporium" / "registry.yaml"] = self.chart_values()
        pyproject = self.root / "pyproject.toml"
        files[pyproject] = root_pyproject(pyproject.read_text(), workspace_packages(self.root))
        readme = self.root / "README.md"
        files[readme] = replace_between(readme.read_text(), README_MARKERS, self.readme_table())
        return files

    def stale(self) -> list[Path]:
        return [
            path
            for path, text in self.generated().items()
            if not path.exists() or path.read_text() != text
        ]


# CI: a change to any of these runs every service's tests and the cross-service suite ...
TEST_INPUTS = (
    "services/kit/",
    "infra/platform/",
    "pyproject.toml",
    "uv.lock",
    ".github/workflows/ci.yml",
)
# ... and these rebuild every image, or every Python image (the workspace in its venv).
IMAGE_INPUTS = (".dockerignore", ".github/workflows/images.yml")
PYTHON_IMAGE_INPUTS = ("services/kit/", "pyproject.toml", "uv.lock")

README_MARKERS = (
    f"<!-- services: generated by `{GENERATE}` -->\n",
    "<!-- end of services -->\n",
)


def replace_between(text: str, markers: tuple[str, str], body: str) -> str:
    start, end = markers
    head, found, rest = text.partition(start)
    _, found_end, tail = rest.partition(end)
    if not found or not found_end:
        raise RegistryError([f"the markers {start.strip()} and {end.strip()} are missing"])
    return head + start + body + end + tail


# ---- reading ---------------------------------------------------------------------------------


def _manifests(root: Path) -> list[tuple[Path, dict[str, Any], dict[str, Any]]]:
    """(manifest, registry table, project metadata) of every folder under services/ whose
    manifest has a table."""
    found = []
    folders = (root / SERVICES_DIR).iterdir() if (root / SERVICES_DIR).is_dir() else ()
    for folder in sorted(folders):
        pyproject, package = folder / "pyproject.toml", folder / "package.json"
        if pyproject.is_file():
            data = tomllib.loads(pyproject.read_text())
            table = data.get("tool", {}).get("emporium", {}).get("service")
            if table is not None:
                found.append((pyproject, table, data.get("project", {})))
        if package.is_file():
            data = json.loads(package.read_text())
            table = data.get("emporium", {}).get("service")
            if table is not None:
                found.append((package, table, data))
    return found


def _words(value: Any, where: str, problems: list[str]) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(w, str) for w in value):
        problems.append(f"{where}: expected a non-empty list of strings")
        return None
    return tuple(value)


def _mapping(value: Any, where: str, problems: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        problems.append(f"{where}: expected a table of strings")
        return {}
    return dict(value)


def _command(
    table: dict[str, Any],
    *,
    name: str,
    kind: Kind,
    project: dict[str, Any],
    where: str,
    problems: list[str],
) -> tuple[str, ...]:
    """The table's command, else the kind's; a Python service's is its console script."""
    command = _words(table.get("command"), f"{where}: command", problems)
    if command is not None:
        return command
    if kind.command is None:
        problems.append(f"{where}: a {kind.name} needs a command")
        return ("",)
    command = tuple(word.replace("{name}", name) for word in kind.command)
    if kind.runtime == "python" and command[0] not in project.get("scripts", {}):
        problems.append(
            f"{where}: the console script {command[0]} is missing from [project.scripts]"
        )
    return command


def _schema(
    table: dict[str, Any], *, name: str, kind: Kind, manifest: Path, where: str, problems: list[str]
) -> str | None:
    """A subgraph's SDL files (by default its package's schema/*.graphql); they must exist."""
    schema = table.get("schema")
    if not kind.subgraph:
        if schema is not None:
            problems.append(f"{where}: only a subgraph has a schema")
        return None
    schema = schema or f"src/emporium_{name}/schema/*.graphql"
    pattern = manifest.parent / schema
    if "*" in str(pattern.parent) or not list(pattern.parent.glob(pattern.name)):
        problems.append(f"{where}: no SDL file matches {schema} ('*' in the file name only)")
    return schema


def _parse(
    manifest: Path, table: dict[str, Any], project: dict[str, Any], root: Path
) -> tuple[Service | None, list[str]]:
    where = os.path.relpath(manifest, root)
    problems: list[str] = []
    if unknown := sorted(set(table) - KEYS):
        problems.append(f"{where}: unknown keys {unknown} (known: {sorted(KEYS)})")
    name = table.get("name")
    folder = manifest.parent.name
    if name != folder or not isinstance(name, str) or not NAME.match(name):
        problems.append(
            f"{where}: name must be the folder's name, {folder!r}, in lower-case letters and "
            f"digits (it is the package suffix, image, chart key and label); got {name!r}"
        )
        return None, problems
    kind = KINDS.get(table.get("kind", ""))
    if kind is None:
        problems.append(f"{where}: kind must be one of {sorted(KINDS)}")
        return None, problems
    port = table.get("port")
    if not isinstance(port, int) or not 1024 < port < 65536:
        problems.append(f"{where}: port must be a local port number above 1024")
        return None, problems
    metrics_port = table.get("metrics_port")
    if metrics_port is not None and (not isinstance(metrics_port, int) or metrics_port <= 1024):
        problems.append(f"{where}: metrics_port must be a port number above 1024")
    if project.get("name") != f"emporium-{name}":
        problems.append(f"{where}: the project must be named emporium-{name}")
    datastores = table.get("datastores", [])
    if not isinstance(datastores, list) or not set(datastores) <= set(DATASTORES):
        problems.append(f"{where}: datastores must be a list of {', '.join(DATASTORES)}")
        datastores = []
    if len(set(datastores)) != len(datastores):
        problems.append(f"{where}: datastores lists one twice")
    calls = table.get("calls", [])
    if not isinstance(calls, list) or not all(isinstance(c, str) for c in calls):
        problems.append(f"{where}: calls must be a list of service names")
        calls = []
    command = _command(table, name=name, kind=kind, project=project, where=where, problems=problems)
    schema = _schema(table, name=name, kind=kind, manifest=manifest, where=where, problems=problems)
    readiness = table.get("readiness", "/readyz")
    links = _mapping(table.get("links"), f"{where}: links", problems)
    for path in (readiness, *links.values()):
        if not isinstance(path, str) or not path.startswith("/"):
            problems.append(f"{where}: {path!r} must be a path starting with '/'")
    env = _mapping(table.get("env"), f"{where}: env", problems)
    test_env = _mapping(table.get("test_env"), f"{where}: test_env", problems)
    if bad := sorted(key for key in (*env, *test_env) if not ENV_NAME.match(key)):
        problems.append(f"{where}: env and test_env names must be upper-case: {bad}")
    note = table.get("note")
    if note is not None and not isinstance(note, str):
        problems.append(f"{where}: note must be a string")
    service = Service(
        name=name,
        kind=kind,
        port=port,
        manifest=manifest,
        description=str(project.get("description", "")),
        datastores=tuple(datastores),
        calls=tuple(calls),
        schema=schema,
        command=command,
        install=_words(table.get("install"), f"{where}: install", problems),
        seed=_words(table.get("seed"), f"{where}: seed", problems),
        readiness=readiness,
        metrics_port=metrics_port,
        links=links,
        env=env,
        test_env=test_env,
        note=note,
    )
    return service, problems


def _start_order(services: dict[str, Service]) -> list[str]:
    """A service after those it calls (alphabetical among equals), then the gateway, then the
    browser apps (its clients); services that call each other keep alphabetical order among
    themselves."""
    rank = {"gateway": 1, "web": 2}
    pending = sorted(services, key=lambda n: (rank.get(services[n].kind.name, 0), n))
    ordered: list[str] = []
    while pending:
        ready = next(
            (n for n in pending if not set(services[n].calls) & (set(pending) - {n})), pending[0]
        )
        ordered.append(ready)
        pending.remove(ready)
    return ordered


def _cross_check(services: dict[str, Service], root: Path) -> list[str]:
    problems = []
    owners: dict[int, str] = {}
    infra = {getattr(Ports(), f.name): f.name for f in fields(Ports)}
    for service in services.values():
        where = os.path.relpath(service.manifest, root)
        for port in service.ports:
            if port in owners:
                problems.append(f"{where}: port {port} is {owners[port]}'s too")
            elif port in infra:
                problems.append(f"{where}: port {port} is the local platform's {infra[port]}")
            owners.setdefault(port, service.name)
        for callee in service.calls:
            if callee == service.name or callee not in services:
                problems.append(f"{where}: calls {callee!r}, which is no other service")
            elif services[callee].kind.name == "gateway" and service.kind.name != "web":
                # a web app's server renders pages from the gateway, as its browsers do
                problems.append(f"{where}: calls the gateway (clients do; services call subgraphs)")
    if len([s for s in services.values() if s.kind.name == "gateway"]) > 1:
        problems.append("there is more than one gateway")
    return problems


def load(root: Path | None = None) -> Registry:
    """Read and validate every registry table under ``root/services`` (default: this
    checkout); raises RegistryError naming every problem."""
    root = (root or find_repo_root()).resolve()
    problems: list[str] = []
    services: dict[str, Service] = {}
    for manifest, table, project in _manifests(root):
        service, found = _parse(manifest, table, project, root)
        problems += found
        if service is None:
            continue
        if service.name in services:
            problems.append(f"{service.name}: more than one manifest of its folder has a table")
        services[service.name] = service
    problems += _cross_check(services, root)
    registry = Registry(root, {name: services[name] for name in _start_order(services)})
    for service in registry:
        templated = [*service.command, *(service.install or ()), *service.env.values()]
        for text in templated:
            try:
                registry.expand(text, service, python="python")
            except (KeyError, IndexError, ValueError) as exc:
                where = os.path.relpath(service.manifest, root)
                problems.append(f"{where}: cannot fill {text!r}: unknown placeholder {exc}")
    if problems:
        raise RegistryError(problems)
    return registry


# ---- the root project's workspace dependencies ------------------------------------------------


def workspace_packages(root: Path) -> list[str]:
    """The project names of the uv workspace's members (its `members` globs)."""
    workspace = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    excluded = {path for pattern in workspace.get("exclude", []) for path in root.glob(pattern)}
    names = set()
    for pattern in workspace["members"]:
        for folder in root.glob(pattern):
            manifest = folder / "pyproject.toml"
            if folder in excluded or not manifest.is_file():
                continue
            project = tomllib.loads(manifest.read_text()).get("project")
            if project:
                names.add(project["name"])
    return sorted(names)


DEPENDENCIES = re.compile(r'^dependencies = \[(?:[^\]"]|"[^"]*")*\]', re.MULTILINE)
SOURCES = re.compile(r"^\[tool\.uv\.sources\]\n(?:(?!\[).*\n?)*", re.MULTILINE)
WORKSPACE_SOURCE = re.compile(r"^[a-z0-9-]+ = \{ workspace = true \}$")


def root_pyproject(text: str, packages: Sequence[str]) -> str:
    """The root pyproject with every workspace package as a dependency and workspace source:
    uv installs a member with `uv sync` only when the root depends on it, and needs the
    source to take it from the workspace. Other dependencies and sources stay."""
    current = tomllib.loads(text)["project"].get("dependencies", [])
    others = [d for d in current if not re.fullmatch(r"emporium-[a-z0-9-]+", d)]
    listed = "".join(f'    "{d}",\n' for d in [*others, *packages])
    text, count = DEPENDENCIES.subn(f"dependencies = [\n{listed}]", text, count=1)
    sources = SOURCES.search(text)
    if count != 1 or sources is None:
        raise RegistryError(["pyproject.toml: no [project] dependencies or [tool.uv.sources]"])
    kept = [
        line
        for line in sources.group(0).splitlines()[1:]
        if line.strip() and not WORKSPACE_SOURCE.match(line)
    ]
    body = [*kept, *(f"{p} = {{ workspace = true }}" for p in packages)]
    table = "[tool.uv.sources]\n" + "\n".join(body) + "\n\n"
    return text[: sources.start()] + table + text[sources.end() :].lstrip("\n")


# ---- command line ----------------------------------------------------------------------------


def _list(registry: Registry) -> None:
    for service in registry:
        ports = "/".join(map(str, service.ports))
        stores = ",".join(service.datastores) or "-"
        calls = ",".join(registry.calls(service.name)) or "-"
        print(f"{service.name:<16} {service.kind.name:<9} {ports:<10} {stores:<22} calls {calls}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emporium-registry", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="the checkout (default: this)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the services, in start order")
    commands.add_parser("check", help="validate; exit 1 when a generated file is stale")
    commands.add_parser("generate", help="rewrite the generated files")
    commands.add_parser("dev-loop", help="JSON for the Tiltfile")
    commands.add_parser(
        "plan", help="GitHub Actions outputs for the JSON list of changed paths on stdin"
    )
    args = parser.parse_args(argv)
    try:
        registry = load(args.root)
        if args.command == "list":
            _list(registry)
        elif args.command == "dev-loop":
            print(json.dumps(registry.dev_loop()))
        elif args.command == "plan":
            for key, value in registry.plan(json.load(sys.stdin)).items():
                print(f"{key}={json.dumps(value, separators=(',', ':'))}")
        elif args.command == "generate":
            for path, text in registry.generated().items():
                if not path.exists() or path.read_text() != text:
                    path.write_text(text)
                    print(f"wrote {os.path.relpath(path, registry.root)}")
        elif stale := registry.stale():
            for path in stale:
                print(f"{os.path.relpath(path, registry.root)} is out of date", file=sys.stderr)
            print(f"run `{GENERATE}` and commit the result", file=sys.stderr)
            return 1
    except RegistryError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
