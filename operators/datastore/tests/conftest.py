"""The running operator against kmock's Kubernetes API emulator.

kmock stores objects as given and never changes resourceVersion. kopf relies on resourceVersion
to tell its own writes from newer ones, so the emulator here versions every write (and bumps
`generation` on spec changes) as the API server does; nothing else about the API is faked.
"""

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs
import jsonpatch
import kmock
import pytest
import yaml
from emporium_operator.constants import GROUP, KIND, PLURAL, VERSION
from kopf.testing import KopfRunner

REPO = Path(__file__).resolve().parents[3]
CRD_PATH = REPO / "k8s" / "crds" / "datastores.emporium.io.yaml"
DATASTORES = f"{GROUP}/{VERSION}/{PLURAL}"
WATCHED = (DATASTORES, "apps/v1/statefulsets")
KUBERNETES_VERSION = {
    "major": "1",
    "minor": "35",
    "gitVersion": "v1.35.0",
    "platform": "linux/amd64",
}


@attrs.frozen
class StaleResourceVersionError(kmock.KubernetesError):
    """What the API server answers when a JSON patch's resourceVersion test fails."""

    status: int = 422
    reason: str = "Invalid"
    message: str = "the object has been modified; please apply your changes to the latest version"


class VersioningEmulator(kmock.KubernetesEmulator):
    """kmock's emulator plus the metadata bookkeeping of a real API server."""

    _versions = itertools.count(1)

    async def _handle(self, request: Any) -> Any:
        data = request.data
        if request.resource is not None and request.action == kmock.action.CREATE:
            if isinstance(data, dict):
                meta = data.setdefault("metadata", {})
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("generation", 1)
                meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
                meta["resourceVersion"] = str(next(self._versions))
        elif request.resource is not None and request.action == kmock.action.UPDATE:
            rv = str(next(self._versions))
            key = (request.resource, request.namespace, request.name)
            current = self.objects[key] if key in self.objects else {}  # noqa: SIM401 - no .get()
            generation = (current or {}).get("metadata", {}).get("generation", 1)
            if isinstance(data, dict):
                data.setdefault("metadata", {})["resourceVersion"] = rv
                if "spec" in data and request.subresource != "status":
                    data["metadata"]["generation"] = generation + 1
            elif isinstance(data, list):  # JSON patch (kopf uses it with a resourceVersion test)
                data.append({"op": "add", "path": "/metadata/resourceVersion", "value": rv})
        try:
            return await super()._handle(request)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise StaleResourceVersionError() from exc


@pytest.fixture
def kmock_options() -> dict[str, Any]:
    return {"cls": VersioningEmulator}


@pytest.fixture
def crd() -> dict[str, Any]:
    return yaml.safe_load(CRD_PATH.read_text())


@pytest.fixture
async def cluster(
    kmock: kmock.KubernetesEmulator,
    crd: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> kmock.KubernetesEmulator:
    """The emulator with the built-in resources and our CRD, and KUBECONFIG pointing at it."""
    kmock.resources.load_bundled()
    names = crd["spec"]["names"]
    kmock.resources[DATASTORES] = kmock.ResourceInfo(
        kind=KIND,
        singular=names["singular"],
        shortnames=set(names["shortNames"]),
        verbs={"get", "list", "watch", "create", "patch", "update", "delete"},
        subresources={"status"},
        namespaced=True,
    )
    # kr8s asks for /version/ (with the slash) when it connects.
    kmock["get /version/"] << KUBERNETES_VERSION
    kubeconfig = tmp_path / "kubeconfig"
    server = str(kmock.url).rstrip("/")
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kmock", "cluster": {"server": server}}],
                "users": [{"name": "test", "user": {"token": "test"}}],
                "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "test"}}],
                "current-context": "kmock",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    return kmock


@pytest.fixture
async def operator(cluster: kmock.KubernetesEmulator) -> AsyncIterator[KopfRunner]:
    """The operator running in a thread, with its watches established before the test acts.

    kmock replays the existing objects to a new watch before it subscribes to new events, so an
    object written in between would be missed: the tests write only once the watches are open.
    """
    args = ["run", "--standalone", "--all-namespaces", "-m", "emporium_operator.main"]
    with KopfRunner(args, timeout=30) as runner:
        await _eventually(
            lambda: all(len(cluster[f"watch {resource}"]) for resource in WATCHED),
            what="the operator's watches",
        )
        yield runner
    assert runner.exception is None, runner.output
    assert runner.exit_code == 0, runner.output


async def _eventually(
    check: Callable[[], Any], *, deadline_seconds: float = 15, what: str = "condition"
) -> Any:
    """Poll a condition on the emulator's state with a bounded deadline."""
    deadline = time.monotonic() + deadline_seconds
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (KeyError, TypeError, AssertionError) as exc:
            last_error, result = exc, None
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last error: {last_error!r}")


@pytest.fixture
def eventually() -> Callable[..., Any]:
    return _eventually
