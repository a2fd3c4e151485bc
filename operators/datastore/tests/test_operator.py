"""The running operator (kopf.testing.KopfRunner) against kmock's Kubernetes API emulator:
create, status from the StatefulSet, update (scale, version, resources), refused changes, and
deletion through the finalizer honouring the deletion policy, for every engine."""

import base64
from typing import Any

import kmock
import pytest
from emporium_operator.constants import (
    API_VERSION,
    FINALIZER,
    GROUP,
    KIND,
    LABEL_DATASTORE,
    PLURAL,
    VERSION,
)
from kopf.testing import KopfRunner

pytestmark = pytest.mark.operator

DATASTORES = f"{GROUP}/{VERSION}/{PLURAL}"
NS = "shop"
STATEFULSETS = "apps/v1/statefulsets"
SECRETS = "v1/secrets"
SERVICES = "v1/services"
PDBS = "policy/v1/poddisruptionbudgets"
JOBS = "batch/v1/jobs"
PVCS = "v1/persistentvolumeclaims"

ENGINES = {
    # engine: (version, upgraded version, scaled replicas)
    "mongodb": ("7.0", "8.0", 3),
    "redis": ("7.4", "8.0", 2),
    "opensearch": ("2.19.1", "2.19.2", 3),
}


def _url(plural_path: str, name: str | None = None, sub: str | None = None) -> str:
    group_version, plural = plural_path.rsplit("/", 1)
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    url = f"{base}/namespaces/{NS}/{plural}"
    if name:
        url += f"/{name}"
    if sub:
        url += f"/{sub}"
    return url


async def _create_datastore(cluster: kmock.KubernetesEmulator, name: str, spec: dict) -> None:
    body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name, "namespace": NS}}
    resp = await cluster.post(_url(DATASTORES), json={**body, "spec": spec})
    assert resp.status in (200, 201), await resp.text()


async def _patch(cluster: kmock.KubernetesEmulator, path: str, name: str, patch: dict, sub=None):
    resp = await cluster.patch(
        _url(path, name, sub),
        json=patch,
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert resp.status == 200, await resp.text()


def _obj(cluster: kmock.KubernetesEmulator, path: str, name: str) -> dict[str, Any]:
    return cluster.objects[kmock.resource(path), NS, name]


def _exists(cluster: kmock.KubernetesEmulator, path: str, name: str) -> bool:
    key = (kmock.resource(path), NS, name)
    return key in cluster.objects and not cluster.objects[key].deleted


def _names(cluster: kmock.KubernetesEmulator, path: str) -> set[str]:
    resource = kmock.resource(path)
    return {
        name
        for res, namespace, name in cluster.objects
        if res == resource and namespace == NS and not cluster.objects[res, namespace, name].deleted
    }


def _phase(cluster: kmock.KubernetesEmulator, name: str) -> str | None:
    return (_obj(cluster, DATASTORES, name).get("status") or {}).get("phase")


def _conditions(cluster: kmock.KubernetesEmulator, name: str) -> dict[str, dict]:
    status = _obj(cluster, DATASTORES, name).get("status") or {}
    return {c["type"]: c for c in status.get("conditions", [])}


def _secret_value(cluster: kmock.KubernetesEmulator, name: str, key: str) -> str:
    data = _obj(cluster, SECRETS, f"{name}-connection")["data"]
    return base64.b64decode(data[key]).decode()


async def _report_rollout(
    cluster: kmock.KubernetesEmulator, name: str, *, ready: int, revision: str = "r1"
) -> None:
    """Play the StatefulSet controller: report the rollout as the real one does."""
    sts = _obj(cluster, STATEFULSETS, name)
    replicas = sts["spec"]["replicas"]
    status = {
        "observedGeneration": sts["metadata"].get("generation", 1),
        "replicas": replicas,
        "readyReplicas": ready,
        "updatedReplicas": replicas,
        "currentRevision": revision,
        "updateRevision": revision,
    }
    await _patch(cluster, STATEFULSETS, name, {"status": status}, sub="status")


@pytest.mark.parametrize("engine", list(ENGINES))
async def test_lifecycle_create_status_update(
    cluster: kmock.KubernetesEmulator, operator: KopfRunner, eventually, engine: str
) -> None:
    version, upgraded, scaled = ENGINES[engine]
    name = f"catalog-{engine}"
    await _create_datastore(cluster, name, {"engine": engine, "version": version})

    # Create: every child exists, is owned by the Datastore, and the finalizer protects it.
    await eventually(lambda: _exists(cluster, STATEFULSETS, name), what="the StatefulSet")
    for path, child in [
        (SECRETS, f"{name}-connection"),
        (SERVICES, name),
        (SERVICES, f"{name}-headless"),
        (PDBS, name),
    ]:
        assert _exists(cluster, path, child), (path, child)
        owner = _obj(cluster, path, child)["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == (KIND, name, True)
    assert FINALIZER in _obj(cluster, DATASTORES, name)["metadata"]["finalizers"]
    url = _secret_value(cluster, name, "url")
    assert f"{name}.{NS}.svc" in url
    password = _secret_value(cluster, name, "password") if engine != "opensearch" else None
    if password:
        assert len(password) >= 24
        assert password not in _obj(cluster, STATEFULSETS, name)["spec"].__repr__()
    sts = _obj(cluster, STATEFULSETS, name)
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f":{version}")
    if engine == "mongodb":
        await eventually(
            lambda: any(job.startswith(f"{name}-rs-") for job in _names(cluster, JOBS)),
            what="the replica set Job",
        )
    await eventually(lambda: _phase(cluster, name) == "Provisioning", what="Provisioning")

    # Status: the StatefulSet becomes ready -> Ready; loses a member -> Degraded.
    await _report_rollout(cluster, name, ready=1)
    await eventually(lambda: _phase(cluster, name) == "Ready", what="Ready")
    assert _conditions(cluster, name)["Ready"]["status"] == "True"
    assert _obj(cluster, DATASTORES, name)["status"]["readyReplicas"] == 1
    await _report_rollout(cluster, name, ready=0)
    await eventually(lambda: _phase(cluster, name) == "Degraded", what="Degraded")
    conditions = _conditions(cluster, name)
    assert conditions["Degraded"]["status"] == "True"
    assert conditions["Ready"]["status"] == "False"
    await _report_rollout(cluster, name, ready=1)
    await eventually(lambda: _phase(cluster, name) == "Ready", what="Ready again")

    # Update: scale, upgrade and resize in one change; credentials survive.
    jobs_before = _names(cluster, JOBS)
    resources = {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "2Gi"}}
    await _patch(
        cluster,
        DATASTORES,
        name,
        {"spec": {"replicas": scaled, "version": upgraded, "resources": resources}},
    )

    def upgraded_statefulset() -> bool:
        spec = _obj(cluster, STATEFULSETS, name)["spec"]
        container = spec["template"]["spec"]["containers"][0]
        return (
            spec["replicas"] == scaled
            and container["image"].endswith(f":{upgraded}")
            and container["resources"] == resources
        )

    await eventually(upgraded_statefulset, what="the scaled and upgraded StatefulSet")
    if password:
        assert _secret_value(cluster, name, "password") == password
    assert _secret_value(cluster, name, "url") == url
    if engine == "mongodb":
        # Scaling a replica set reconfigures its members once, with a Job for the new membership.
        await eventually(lambda: len(_names(cluster, JOBS) - jobs_before) == 1, what="the Job")
    if engine == "opensearch":
        env = {
            e["name"]: e.get("value")
            for e in _obj(cluster, STATEFULSETS, name)["spec"]["template"]["spec"]["containers"][0][
                "env"
            ]
        }
        assert env["cluster.initial_cluster_manager_nodes"].count(",") == scaled - 1
        assert env["OPENSEARCH_JAVA_OPTS"] == "-Xms1024m -Xmx1024m"

    # The new template rolls out: Provisioning until every member is ready with it, then Ready.
    await _report_rollout(cluster, name, ready=1, revision="r2")
    await eventually(
        lambda: _conditions(cluster, name)["Provisioning"]["reason"] == "RollingOut",
        what="the rollout",
    )
    assert _phase(cluster, name) == "Provisioning"
    await _report_rollout(cluster, name, ready=scaled, revision="r2")
    await eventually(lambda: _phase(cluster, name) == "Ready", what="Ready after the update")
    assert _obj(cluster, DATASTORES, name)["status"]["readyReplicas"] == scaled


async def test_refused_changes_are_reported_not_applied(
    cluster: kmock.KubernetesEmulator, operator: KopfRunner, eventually
) -> None:
    name = "search-opensearch"
    await _create_datastore(cluster, name, {"engine": "opensearch", "version": "2.19.1"})
    await eventually(lambda: _exists(cluster, STATEFULSETS, name), what="the StatefulSet")

    await _patch(cluster, DATASTORES, name, {"spec": {"version": "2.18.0"}})
    await eventually(lambda: _phase(cluster, name) == "Failed", what="the refusal")
    degraded = _conditions(cluster, name)["Degraded"]
    assert degraded["reason"] == "InvalidSpec"
    assert "downgrade" in degraded["message"]
    image = _obj(cluster, STATEFULSETS, name)["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(":2.19.1")

    # A refused status is not overwritten by the StatefulSet still running the old version.
    await _report_rollout(cluster, name, ready=1)
    await _patch(cluster, DATASTORES, name, {"spec": {"version": "2.19.2"}})
    await eventually(lambda: _phase(cluster, name) != "Failed", what="recovery")


async def test_invalid_spec_creates_nothing(
    cluster: kmock.KubernetesEmulator, operator: KopfRunner, eventually
) -> None:
    # The CRD schema would reject this at admission; the operator must refuse it too.
    name = "legacy-mongodb"
    await _create_datastore(cluster, name, {"engine": "mongodb", "version": "4.4", "replicas": 2})
    await eventually(lambda: _phase(cluster, name) == "Failed", what="the refusal")
    assert "too old" in _conditions(cluster, name)["Degraded"]["message"]
    assert not _exists(cluster, STATEFULSETS, name)
    assert not _exists(cluster, SECRETS, f"{name}-connection")


@pytest.mark.parametrize("policy", ["Retain", "Delete"])
@pytest.mark.parametrize("engine", list(ENGINES))
async def test_delete_honours_the_policy(
    cluster: kmock.KubernetesEmulator,
    operator: KopfRunner,
    eventually,
    engine: str,
    policy: str,
) -> None:
    version = ENGINES[engine][0]
    name = f"orders-{engine}"
    await _create_datastore(
        cluster, name, {"engine": engine, "version": version, "deletionPolicy": policy}
    )
    await eventually(lambda: _exists(cluster, STATEFULSETS, name), what="the StatefulSet")
    sts = _obj(cluster, STATEFULSETS, name)
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == policy
    # Play the StatefulSet controller: a claim from the template, plus a stranger's claim.
    claim_labels = sts["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"]
    for claim, claim_meta in [
        (f"data-{name}-0", claim_labels),
        ("someone-elses-data", {"app": "other"}),
    ]:
        resp = await cluster.post(
            _url(PVCS),
            json={
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim, "namespace": NS, "labels": claim_meta},
            },
        )
        assert resp.status in (200, 201)
    assert claim_labels[LABEL_DATASTORE] == name

    resp = await cluster.delete(_url(DATASTORES, name))
    assert resp.status == 200
    await eventually(lambda: not _exists(cluster, DATASTORES, name), what="the finalizer")

    assert _exists(cluster, PVCS, "someone-elses-data")
    secret_meta = _obj(cluster, SECRETS, f"{name}-connection")["metadata"]
    if policy == "Retain":
        assert _exists(cluster, PVCS, f"data-{name}-0")
        assert not secret_meta.get("ownerReferences"), "a retained Secret must outlive GC"
        assert secret_meta["labels"]["emporium.io/retained"] == "true"
    else:
        assert not _exists(cluster, PVCS, f"data-{name}-0")
        assert secret_meta["ownerReferences"][0]["name"] == name  # collected with the owner
