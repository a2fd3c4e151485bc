"""The `cluster` tier: the charts and the datastore operator on a real Kubernetes API server.

The server comes from the platform's `k8s_cluster` fixture: a private local control plane for
the session (upstream etcd, kube-apiserver, controller manager and scheduler; kwok stands in
for the kubelets and the volume provisioner), or the cluster `EMPORIUM_CLUSTER_KUBECONFIG`
names. What is judged is what the API server and the real controllers make of our objects.

The operator runs out of cluster as a `kopf run` process, authenticated with a token of the
ServiceAccount its chart creates: it can do exactly what the chart's RBAC grants. Every test
works in namespaces of its own (namespace deletion is asynchronous, so names are never reused).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import kr8s.asyncio
import pytest
import yaml
from emporium_platform.processes import free_port
from emporium_platform.pytest_plugin import KubeCluster

REPO = Path(__file__).resolve().parents[3]
CHARTS = REPO / "charts"
HERE = Path(__file__).parent
SERVICE_MONITOR_CRD = HERE / "crds" / "servicemonitors.monitoring.coreos.com.yaml"
OPERATOR_RELEASE = "datastore-operator"
DATASTORES = "datastores.emporium.io"
# The namespaces the docs install into enforce Pod Security "restricted" (k8s/base): every test
# namespace carries the same labels, so the API server admits only pods that comply.
_NAMESPACES = {
    doc["metadata"]["name"]: doc["metadata"]["labels"]
    for doc in yaml.safe_load_all((REPO / "k8s" / "base" / "namespaces.yaml").read_text())
}
PLATFORM_NAMESPACE_LABELS = _NAMESPACES["emporium"]
SYSTEM_NAMESPACE_LABELS = _NAMESPACES["emporium-system"]
# How the RBAC authorizer words a refusal (other 403s, such as writes into a namespace that is
# being deleted, are not about permissions).
REFUSED = re.compile(r'User \\?"system:serviceaccount:[^"\\]*\\?" cannot ')

T = TypeVar("T")


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


async def run(
    *args: str | Path, env: dict[str, str] | None = None, stdin: str | None = None, check=True
) -> Result:
    """A subprocess that does not block the event loop (watches keep recording meanwhile)."""
    process = await asyncio.create_subprocess_exec(
        *map(str, args),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    result = Result(process.returncode or 0, out.decode(), err.decode())
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, what: str, within: float = 60.0
) -> T:
    """Poll `check` until it returns something truthy, for at most `within` seconds; fail with
    the last observation."""
    deadline = time.monotonic() + within
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = await check()
        except AssertionError as exc:
            last, result = exc, None
        if result:
            return result
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out after {within:.0f}s waiting for {what}; last: {last}")


def write_token_kubeconfig(admin_kubeconfig: Path, user: str, token: str, path: Path) -> Path:
    """The admin kubeconfig's cluster, with the token as the only credentials."""
    admin = yaml.safe_load(admin_kubeconfig.read_text())
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])
    cluster = next(c for c in admin["clusters"] if c["name"] == context["context"]["cluster"])
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": user, "context": {"cluster": cluster["name"], "user": user}}],
        "current-context": user,
    }
    path.write_text(yaml.safe_dump(kubeconfig))
    path.chmod(0o600)
    return path


@dataclass
class Kube:
    """kubectl, helm and a kr8s client, all bound to the cluster under test."""

    cluster: KubeCluster
    api: kr8s.asyncio.Api
    helm_env: dict[str, str]

    async def kubectl(
        self,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        kubeconfig: Path | None = None,
    ) -> Result:
        """kubectl as the cluster admin, or as whoever `kubeconfig` authenticates."""
        config = kubeconfig or self.cluster.kubeconfig
        command = (self.cluster.kubectl, f"--kubeconfig={config}", *args)
        return await run(*command, stdin=stdin, check=check)

    async def helm(self, *args: str | Path, check: bool = True) -> Result:
        command = (self.cluster.helm, f"--kubeconfig={self.cluster.kubeconfig}", *args)
        return await run(*command, env=self.helm_env, check=check)

    async def apply(self, *manifests: dict[str, Any], check: bool = True) -> Result:
        document = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(manifests)})
        return await self.kubectl("apply", "-f", "-", stdin=document, check=check)

    async def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        found = [o async for o in self.api.get(kind, name, namespace=namespace)]
        return dict(found[0].raw) if found else None

    async def list(
        self, kind: str, namespace: str | None = None, selector: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        objects = self.api.get(kind, namespace=namespace, label_selector=selector or {})
        return [dict(o.raw) async for o in objects]

    @staticmethod
    def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
        """The status condition of that type, {} when there is none (yet)."""
        conditions = ((obj or {}).get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c.get("type") == kind), {})

    async def eventually(
        self, check: Callable[[], Awaitable[T | None]], *, what: str, within: float = 60.0
    ) -> T:
        return await eventually(check, what=what, within=within)

    def record(self, kind: str, namespace: str | None = None) -> Recorder:
        """`async with kube.record(kind, ns) as history`: every watch event meanwhile."""
        return Recorder(self, kind, namespace)

    async def datastores_ready(self, namespace: str, names: Iterable[str]) -> None:
        async def ready(name: str) -> None:
            async def check() -> bool:
                obj = await self.get(DATASTORES, name, namespace)
                return self.condition(obj, "Ready").get("status") == "True"

            await eventually(check, what=f"Datastore {namespace}/{name} to be Ready")

        await asyncio.gather(*(ready(name) for name in names))

    async def token_kubeconfig(self, namespace: str, account: str, path: Path) -> Path:
        """A kubeconfig that authenticates with nothing but a token of the ServiceAccount (a
        client certificate next to it would win)."""
        token = await self.kubectl("create", "token", account, "-n", namespace, "--duration=2h")
        return write_token_kubeconfig(self.cluster.kubeconfig, account, token.stdout.strip(), path)

    async def can_i(self, user: str, verb: str, resource: str, namespace: str) -> bool:
        """`kubectl auth can-i` as `user` (impersonated): the API server's own decision.
        `verb` may name a subresource: "patch/status"."""
        verb, _, subresource = verb.partition("/")
        args = ["auth", "can-i", verb, resource, f"--as={user}", "-n", namespace]
        if subresource:
            args.append(f"--subresource={subresource}")
        result = await self.kubectl(*args, check=False)
        if result.stdout.strip() not in {"yes", "no"}:
            raise AssertionError(f"kubectl {' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout.strip() == "yes"


def service_account(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def namespace_manifest(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


@dataclass
class Recorder:
    """A list of the objects, then every change after it from a watch that resumes at the
    list's resourceVersion (nothing in between is missed), until the block ends."""

    kube: Kube
    kind: str
    namespace: str | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Events before this index are the initial list.
    live_from: int = 0
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Recorder:
        scope = ["-n", self.namespace] if self.namespace else []
        listed = json.loads(
            (await self.kube.kubectl("get", self.kind, *scope, "-o", "json")).stdout
        )
        self.events = [("ADDED", item) for item in listed["items"]]
        self.live_from = len(self.events)
        self._task = asyncio.create_task(self._record(listed["metadata"]["resourceVersion"]))
        return self

    async def _record(self, since: str) -> None:
        changes = self.kube.api.watch(self.kind, namespace=self.namespace, since=since)
        async for event, obj in changes:
            self.events.append((event, dict(obj.raw)))

    async def __aexit__(self, *exc: object) -> None:
        if self._task is None:
            return
        if self._task.done():
            # A watch that failed or ended must fail the test, not leave a thinner record.
            self._task.result()
            raise AssertionError(f"the watch of {self.kind} ended before the block did")
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def of(self, name: str) -> list[dict[str, Any]]:
        """The states one object went through, in order."""
        return [obj for _, obj in self.events if obj["metadata"]["name"] == name]

    def states(self) -> Iterator[dict[str, dict[str, Any]]]:
        """Every object of the watch by name, after each live event (and once before them)."""
        current: dict[str, dict[str, Any]] = {}
        for index, (event, obj) in enumerate(self.events):
            if event == "DELETED":
                current.pop(obj["metadata"]["name"], None)
            else:
                current[obj["metadata"]["name"]] = obj
            if index >= self.live_from - 1:
                yield current


@pytest.fixture(scope="session")
async def kube(k8s_cluster: KubeCluster, tmp_path_factory: pytest.TempPathFactory) -> Kube:
    home = tmp_path_factory.mktemp("helm-home")
    helm_env = {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    api = await kr8s.asyncio.api(kubeconfig=str(k8s_cluster.kubeconfig))
    return Kube(k8s_cluster, api, helm_env)


@pytest.fixture
async def new_namespace(kube: Kube) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """Creates namespaces with unique names (Pod Security "restricted"); deleted afterwards."""
    created: list[str] = []

    async def create(prefix: str = "test", labels: dict[str, str] | None = None) -> str:
        name = unique(prefix)
        await kube.apply(namespace_manifest(name, labels or PLATFORM_NAMESPACE_LABELS))
        created.append(name)
        return name

    yield create
    for name in created:
        await kube.kubectl("delete", "namespace", name, "--wait=false")


@dataclass(frozen=True)
class OperatorInstall:
    namespace: str
    service_account: str


@pytest.fixture(scope="session")
async def operator_install(kube: Kube) -> AsyncIterator[OperatorInstall]:
    """The documented install: the CRD chart, then the operator chart in its own namespace.

    `--wait` proves the operator's Deployment becomes available under Pod Security
    "restricted"; it is then scaled to zero so that exactly one operator runs: the one below.
    """
    namespace = unique("emporium-system")
    await kube.apply(namespace_manifest(namespace, SYSTEM_NAMESPACE_LABELS))
    crds = CHARTS / "datastore-operator-crds"
    await kube.helm("install", "datastore-operator-crds", crds, "-n", namespace, "--wait")
    await kube.helm(
        "install",
        OPERATOR_RELEASE,
        CHARTS / "datastore-operator",
        "-n",
        namespace,
        "--wait",
        "--timeout=2m",
    )
    await kube.kubectl("scale", "deployment", OPERATOR_RELEASE, "-n", namespace, "--replicas=0")
    yield OperatorInstall(namespace, OPERATOR_RELEASE)
    await kube.kubectl("delete", "namespace", namespace, "--wait=false")


@dataclass
class OperatorProcess:
    process: asyncio.subprocess.Process
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="session")
async def operator(
    kube: Kube, operator_install: OperatorInstall, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OperatorProcess]:
    """`kopf run` of the operator, cluster-wide, as the chart's ServiceAccount.

    At the end of the session its log must show no request the API server refused: whatever
    the tests made it do, the chart's ClusterRole allowed.
    """
    work = tmp_path_factory.mktemp("operator")
    kubeconfig = await kube.token_kubeconfig(
        operator_install.namespace, operator_install.service_account, work / "kubeconfig"
    )
    liveness = f"http://127.0.0.1:{free_port()}/healthz"
    log = work / "operator.log"
    kopf = Path(sys.executable).parent / "kopf"
    command = [str(kopf), "run", "--standalone", "--all-namespaces"]
    command += ["-m", "emporium_operator.main", f"--liveness={liveness}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMPORIUM_")}
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *command,
            env={**env, "KUBECONFIG": str(kubeconfig)},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = OperatorProcess(process, log)

    async def alive() -> bool:
        if process.returncode is not None:
            raise RuntimeError(f"the operator exited:\n{running.output()[-4000:]}")
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(liveness)).status_code == 200
        except httpx.HTTPError:
            return False

    await eventually(alive, what="the operator's liveness endpoint", within=60)
    yield running
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 20)
    except TimeoutError:
        process.kill()
        await process.wait()
    refused = [line for line in running.output().splitlines() if REFUSED.search(line)]
    assert not refused, "the API server refused the operator:\n" + "\n".join(refused[:20])


def fernet_key() -> str:
    """A random key in the shape the services' Fernet settings expect (urlsafe base64, 32 B)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


# The tags the release is installed with and upgraded to (images are not pulled on the local
# control plane; on a real cluster both must exist under global.image.registry).
RELEASE_TAG = os.environ.get("EMPORIUM_CLUSTER_IMAGE_TAG", "1.0.0")
UPGRADE_TAG = os.environ.get("EMPORIUM_CLUSTER_UPGRADE_TAG", "1.0.1")
RELEASE = "emporium"


@dataclass(frozen=True)
class PlatformRelease:
    namespace: str
    # The install's arguments but the image tag (`--set global.image.tag=` follows).
    args: tuple[str, ...]
    deployments: dict[str, int]
    datastores: list[str]
    tag: str = RELEASE_TAG
    upgrade_tag: str = UPGRADE_TAG

    def with_tag(self, tag: str) -> tuple[str, ...]:
        return (*self.args, "--set", f"global.image.tag={tag}")


@pytest.fixture(scope="session")
async def platform_release(
    kube: Kube,
    operator: OperatorProcess,
    umbrella: Path,
    install_args: tuple[str, ...],
    values: dict[str, Any],
) -> PlatformRelease:
    """The umbrella chart as production installs it (docs/deploy.md): its values file, the
    supergraph and public URL, the services' Secrets created first, the Prometheus Operator's
    ServiceMonitor CRD present, `helm install --wait`. The HPAs then scale every Deployment to
    their minimum and the operator makes every Datastore Ready."""
    await kube.kubectl("apply", "-f", str(SERVICE_MONITOR_CRD))
    await kube.kubectl(
        "wait", "--for=condition=Established", "crd/servicemonitors.monitoring.coreos.com"
    )
    namespace = unique("emporium")
    await kube.apply(namespace_manifest(namespace, PLATFORM_NAMESPACE_LABELS))
    secrets_by_service: dict[str, dict[str, str]] = {}
    for name, service in values["services"].items():
        for setting in (service.get("secretEnv") or {}).values():
            key = setting["key"] if isinstance(setting, dict) else setting
            secrets_by_service.setdefault(name, {})[key] = fernet_key()
    await kube.apply(
        *(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"{name}-secrets", "namespace": namespace},
                "stringData": data,
            }
            for name, data in secrets_by_service.items()
        )
    )
    production = umbrella / "values-production.yaml"
    args = (RELEASE, str(umbrella), "-n", namespace, "-f", str(production), *install_args)
    tag = ("--set", f"global.image.tag={RELEASE_TAG}")
    await kube.helm("install", *args, *tag, "--wait", "--timeout=5m")

    minimum = yaml.safe_load(production.read_text())["defaults"]["autoscaling"]["minReplicas"]
    # every service of the release: those of the chart's registry.yaml
    services = yaml.safe_load((umbrella / "registry.yaml").read_text())["services"]
    deployments = dict.fromkeys(services, minimum)

    async def scaled() -> bool:
        for name, replicas in deployments.items():
            status = (await kube.get("deployments", name, namespace))["status"]
            if status.get("availableReplicas") != replicas:
                raise AssertionError(f"{name}: {status}")
        return True

    await eventually(scaled, what="the HPAs to scale every Deployment to its minimum")
    datastores = [d["metadata"]["name"] for d in await kube.list(DATASTORES, namespace)]
    await kube.datastores_ready(namespace, datastores)
    return PlatformRelease(namespace, args, deployments, datastores)
