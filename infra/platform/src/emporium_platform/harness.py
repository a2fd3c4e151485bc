"""Services as real processes on the test platform, the gateway in front: the one harness of
every suite that runs more than one service.

The pytest plugin's ``stacks`` fixture makes a :class:`Stack` per suite; as a context manager
the stack stops when the suite's fixture finalizes (and at the end of the session at the
latest)::

    @pytest.fixture(scope="session")
    def stack(stacks):
        with stacks("workflow") as stack:
            stack.start("identity", env={...})  # the suite's own settings on top
            stack.start("catalog")
            stack.start("search")
            yield stack

    stack.start("cart", replica="cart-b")       # a second replica: same database and names
    gateway = stack.gateway()                   # a GraphQLClient of a gateway routing to them
    gateway.post("{ products(first: 1) { totalCount } }", token=...)
    gateway.run("ProductList", {"first": 1})    # a persisted operation, by name

A service runs the way the local platform runs it, from its registry table
(``[tool.emporium.service]``): its command (``emporium-<name> serve``) on a free loopback port,
with the test instance's connection settings, its ``env``, then its ``test_env`` (names unique
to the session and test defaults, in the same table) and what the suite passes. So a new
service joins a suite by having its table and being started by name.

Every stack has a session id: its services get the Mongo database
``<label>_<service>_<session>`` and put the id into every other name they create (namespaces,
index aliases, consumer names), so suites never see each other's data. ``close()`` stops the
processes, drops those databases and deletes the OpenSearch indices whose names hold the id.
``EMPORIUM_JWKS_URL`` of every service and gateway is the stack's ``jwks_url`` or, without
one, the ``jwks`` link of a started service that publishes its keys (identity).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import httpx
from pymongo import MongoClient

from emporium_platform.config import PlatformConfig
from emporium_platform.processes import (
    ServiceProcess,
    ensure_gateway_installed,
    free_port,
    gateway_process,
)
from emporium_platform.registry import Registry, Service
from emporium_platform.registry import load as load_registry
from emporium_platform.services import AppService, resolve_command

GATEWAY = "gateway"


class PlatformLike(Protocol):
    """What a stack needs of the test platform (the pytest plugin's ``platform``)."""

    @property
    def config(self) -> PlatformConfig: ...

    @property
    def mongo_url(self) -> str: ...

    @property
    def opensearch_url(self) -> str: ...


def persisted_operations() -> dict[str, str]:
    """The gateway's committed persisted operations: ``{operation name: id}``."""
    manifest = json.loads((ensure_gateway_installed() / "persisted-operations.json").read_text())
    return {op["name"]: op["id"] for op in manifest["operations"]}


@dataclass
class GraphQLClient:
    """POSTs GraphQL requests to one gateway: documents, or persisted operations by name.
    As a context manager it stops its gateway on exit."""

    process: ServiceProcess
    operations: Mapping[str, str] = field(default_factory=persisted_operations)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))

    @property
    def url(self) -> str:
        return self.process.graphql_url

    def post(
        self,
        query: str | None = None,
        variables: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
        **body: Any,
    ) -> httpx.Response:
        """A request whose JSON body holds ``query``, ``variables``, ``extensions`` and
        anything in ``body``; ``token`` is sent as the bearer token."""
        payload: dict[str, Any] = dict(body)
        if query is not None:
            payload["query"] = query
        if variables is not None:
            payload["variables"] = dict(variables)
        if extensions is not None:
            payload["extensions"] = dict(extensions)
        sent = dict(headers or {})
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        return self.http.post(self.url, json=payload, headers=sent)

    def run(
        self,
        operation: str,
        variables: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The persisted operation ``services/gateway/operations/<operation>.graphql``."""
        return self.post(
            None,
            variables or {},
            token=token,
            headers=headers,
            documentId=self.operations[operation],
        )

    def close(self) -> None:
        self.http.close()
        self.process.stop()

    def __enter__(self) -> GraphQLClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Stack:
    """One suite's services on the test platform (see the module doc).

    ``Stack(platform, label=..., log_dir=..., jwks_url=None, env=None, gateway_env=None)``:
    ``env`` goes to every service the stack starts and ``gateway_env`` to every gateway;
    ``jwks_url`` replaces the JWKS of a started service.
    """

    def __init__(
        self,
        platform: PlatformLike,
        *,
        label: str,
        log_dir: Path,
        jwks_url: str | None = None,
        env: Mapping[str, str] | None = None,
        gateway_env: Mapping[str, str] | None = None,
    ) -> None:
        self.platform = platform
        self.label = label
        self.log_dir = log_dir
        self.session = uuid.uuid4().hex[:10]
        self.services: dict[str, ServiceProcess] = {}
        self._names: dict[str, str] = {}  # started process -> its service (replicas)
        self._jwks_url = jwks_url
        self._env = dict(env or {})
        self._gateway_env = dict(gateway_env or {})
        self._registry: Registry = load_registry()
        self._gateways: list[GraphQLClient] = []

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def database(self, service: str) -> str:
        """The Mongo database of ``service`` in this stack."""
        return f"{self.label}_{service}_{self.session}"

    @property
    def jwks_url(self) -> str | None:
        if self._jwks_url is not None:
            return self._jwks_url
        for key, process in self.services.items():
            path = self._registry[self._names[key]].links.get("jwks")
            if path is not None:
                return f"{process.url}{path}"
        return None

    def start(
        self,
        name: str,
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 120.0,
        replica: str | None = None,
    ) -> ServiceProcess:
        """Start ``name`` (a service of the registry) and return once it is ready.

        ``replica``: start another process of a service already running, under this name
        (``stack[replica]``), with the same database and session names, as a second replica
        of one deployment. Gateways route to the first process; point one at a replica with
        ``EMPORIUM_SUBGRAPH_<NAME>_URL``."""
        if self._registry[name].kind.name == "gateway":
            raise ValueError(f"{name} is the gateway: run it with stack.gateway()")
        key = replica or name
        if key in self.services:
            raise ValueError(f"{key} already runs in this stack")
        if replica is not None and name not in self.services:
            raise ValueError(f"start {name} before its replica {replica}")
        # the same command as on the platform, on a free port of its own
        spec = replace(self._registry[name], port=free_port())
        port = spec.port
        process = ServiceProcess(
            key,
            resolve_command(spec.command, self.platform.config, self._registry, spec),
            port=port,
            env=self._environment(spec, port, env or {}),
            cwd=self.platform.config.root,
            ready_path=spec.readiness,
            log_dir=self.log_dir,
        )
        process.start(timeout=timeout)
        self.services[key] = process
        self._names[key] = name
        return process

    def _environment(self, spec: Service, port: int, extra: Mapping[str, str]) -> dict[str, str]:
        env = AppService(spec, self._registry).environment(self.platform.config)
        env.pop("EMPORIUM_JWKS_URL", None)  # the local platform's identity, not this stack's
        if (jwks := self.jwks_url) is not None:
            env["EMPORIUM_JWKS_URL"] = jwks
        env["EMPORIUM_MONGO_DATABASE"] = self.database(spec.name)
        env.update(self._env)
        started = {
            self._names[key]: process.url
            for key, process in reversed(self.services.items())  # the first process wins
        }
        for key, template in spec.test_env.items():
            try:
                env[key] = template.format(
                    session=self.session, host=self.platform.config.host, port=port, url=started
                )
            except KeyError as missing:
                raise ValueError(
                    f"{spec.name}'s test_env {key} names {missing}: start that service first"
                ) from None
        env.update(extra)
        return env

    def gateway_env(self, **env: str) -> dict[str, str]:
        """A gateway's settings: development mode, the stack's JWKS and the routing URL of
        every started subgraph, then the stack's ``gateway_env`` and ``env``."""
        settings = {"EMPORIUM_ENVIRONMENT": "development"}
        if (jwks := self.jwks_url) is not None:
            settings["EMPORIUM_JWKS_URL"] = jwks
        for key, process in self.services.items():
            name = self._names[key]
            if key == name and "graphql" in self._registry.links(name):
                settings[f"EMPORIUM_SUBGRAPH_{name.upper()}_URL"] = process.graphql_url
        return {**settings, **self._gateway_env, **env}

    def gateway(self, name: str = GATEWAY, *, timeout: float = 90.0, **env: str) -> GraphQLClient:
        """Start a gateway in front of the started subgraphs (settings: :meth:`gateway_env`)
        and return a client of it; it stops with the stack, or when the client closes."""
        process = gateway_process(env=self.gateway_env(**env), name=name, log_dir=self.log_dir)
        process.start(timeout=timeout)
        client = GraphQLClient(process)
        self._gateways.append(client)
        return client

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop every process (gateways first), drop the stack's databases and delete its
        OpenSearch indices; closing again does nothing."""
        for client in reversed(self._gateways):
            client.close()
        for process in reversed(self.services.values()):
            process.stop()
        names = set(self._names.values())
        needs = {need for name in names for need in self._registry[name].needs}
        if "ferretdb" in needs:
            mongo: MongoClient[dict[str, Any]]
            with MongoClient(self.platform.mongo_url) as mongo:
                for name in names:
                    mongo.drop_database(self.database(name))
        if "opensearch" in needs:
            httpx.delete(f"{self.platform.opensearch_url}/*{self.session}*", timeout=30)
        self.services.clear()
        self._names.clear()
        self._gateways.clear()
