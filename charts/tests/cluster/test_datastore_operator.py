"""The datastore operator on a real API server: the CRD's schema, the StatefulSet controller's
rollouts, garbage collection, volume claims and the finalizer are the real thing here."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from emporium_operator.constants import GROUP, PLURAL

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("operator")]

DATASTORES = f"{PLURAL}.{GROUP}"

ENGINES = {
    # engine: (version, upgraded version, scaled replicas, URL scheme)
    "mongodb": ("7.0", "8.0", 3, "mongodb://"),
    "redis": ("7.4", "8.0", 2, "redis://"),
    "opensearch": ("2.19.1", "2.19.2", 3, "http://"),
}
RESOURCES = {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"memory": "512Mi"}}


def datastore(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "emporium.io/v1alpha1",
        "kind": "Datastore",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"storage": {"size": "1Gi"}, **spec},
    }


def owned_by(obj: dict[str, Any] | None, uid: str) -> bool:
    references = (obj or {}).get("metadata", {}).get("ownerReferences") or []
    return any(r["uid"] == uid and r.get("controller") for r in references)


def engine_container(sts: dict[str, Any]) -> dict[str, Any]:
    return sts["spec"]["template"]["spec"]["containers"][0]


def secret_value(secret: dict[str, Any], key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


async def patch_spec(kube, namespace: str, name: str, spec: dict[str, Any], check=True):
    patch = json.dumps({"spec": spec})
    args = ("patch", DATASTORES, name, "-n", namespace, "--type=merge", "-p", patch)
    return await kube.kubectl(*args, check=check)


async def jobs_complete(kube, namespace: str, name: str, count: int) -> None:
    """The replica set Jobs of a MongoDB Datastore ran to completion (kwok completes the pods
    of Jobs); one per membership."""

    async def check() -> bool:
        jobs = await kube.list("jobs", namespace, {"emporium.io/datastore": name})
        done = [kube.condition(job, "Complete").get("status") == "True" for job in jobs]
        assert len(done) <= count, [job["metadata"]["name"] for job in jobs]
        return len(done) == count and all(done)

    await kube.eventually(check, what=f"{count} completed replica set Job(s) of {name}")


async def _provision_and_update(kube, namespace: str, engine: str, history) -> None:
    """From Provisioning (created while no node takes pods) to Ready, then one update."""
    version, upgraded, scaled, scheme = ENGINES[engine]
    name = f"shop-{engine}"
    await kube.datastores_ready(namespace, [name])
    ds = await kube.get(DATASTORES, name, namespace)
    assert ds is not None
    uid = ds["metadata"]["uid"]

    # Every child exists, is owned by the Datastore, and the real controllers ran it.
    sts = await kube.get("statefulsets", name, namespace)
    assert owned_by(sts, uid), f"{engine}: StatefulSet not owned by its Datastore"
    assert engine_container(sts)["image"].endswith(f":{version}"), engine
    assert sts["status"]["readyReplicas"] == 1, engine
    for kind, child in [
        ("services", name),
        ("services", f"{name}-headless"),
        ("poddisruptionbudgets", name),
        ("secrets", f"{name}-connection"),
    ]:
        assert owned_by(await kube.get(kind, child, namespace), uid), f"{engine}: {kind} {child}"
    secret = await kube.get("secrets", f"{name}-connection", namespace)
    url = secret_value(secret, "url")
    assert url.startswith(scheme), f"{engine}: {url}"
    assert f"@{name}.{namespace}.svc:" in url or url == f"http://{name}.{namespace}.svc:9200"
    claim = await kube.get("persistentvolumeclaims", f"data-{name}-0", namespace)
    assert claim["status"]["phase"] == "Bound", f"{engine}: {claim['status']}"
    pdb = await kube.get("poddisruptionbudgets", name, namespace)
    assert kube.condition(pdb, "DisruptionAllowed").get("reason") != "SyncFailed", pdb["status"]
    if engine == "mongodb":
        await jobs_complete(kube, namespace, name, 1)

    # One change that scales, upgrades and resizes: the StatefulSet controller rolls it out.
    await patch_spec(
        kube, namespace, name, {"version": upgraded, "replicas": scaled, **{"resources": RESOURCES}}
    )

    async def rolled_out() -> dict[str, Any] | None:
        current = await kube.get(DATASTORES, name, namespace)
        status = current["status"]
        done = (
            status.get("observedGeneration") == current["metadata"]["generation"]
            and status.get("version") == upgraded
            and status.get("readyReplicas") == scaled
            and kube.condition(current, "Ready").get("status") == "True"
        )
        return current if done else None

    updated = await kube.eventually(rolled_out, what=f"{engine} scaled to {scaled} and upgraded")
    generation = updated["metadata"]["generation"]
    sts = await kube.get("statefulsets", name, namespace)
    container = engine_container(sts)
    assert container["image"].endswith(f":{upgraded}"), engine
    assert container["resources"] == RESOURCES, engine
    assert sts["status"]["updatedReplicas"] == sts["status"]["readyReplicas"] == scaled, engine
    assert sts["status"]["currentRevision"] == sts["status"]["updateRevision"], engine
    for index in range(scaled):
        claim = await kube.get("persistentvolumeclaims", f"data-{name}-{index}", namespace)
        assert claim["status"]["phase"] == "Bound", f"{engine}: claim {index}"
    # While the new spec rolled out the Datastore said so: no status of this generation
    # claimed Ready before the StatefulSet was done (what `kubectl wait` and helm rely on).
    statuses = [d.get("status") or {} for d in history.of(name)]
    of_generation = [s for s in statuses if s.get("observedGeneration") == generation]
    assert of_generation[0].get("phase") == "Provisioning", f"{engine}: {of_generation[0]}"
    assert (
        kube.condition({"status": of_generation[0]}, "Provisioning").get("reason") == "RollingOut"
    )
    assert secret_value(await kube.get("secrets", f"{name}-connection", namespace), "url") == url
    if engine == "mongodb":
        # The new membership is configured by a Job of its own.
        await jobs_complete(kube, namespace, name, 2)
    # A clean lifecycle never looked like a loss of members.
    phases = [(d.get("status") or {}).get("phase") for d in history.of(name)]
    assert "Degraded" not in phases, f"{engine}: {phases}"


async def test_every_engine_is_provisioned_then_scaled_upgraded_and_resized(
    kube, new_namespace
) -> None:
    namespace = await new_namespace("datastores")
    async with kube.record(DATASTORES, namespace) as history:
        # No node takes new pods at first: every Datastore must say Provisioning (Creating),
        # then Ready once its members are scheduled and kwok reports them ready.
        nodes = await kube.list("nodes")
        cordoned = [n["metadata"]["name"] for n in nodes if not n["spec"].get("unschedulable")]
        assert cordoned, "no schedulable node"
        await kube.kubectl("cordon", *cordoned)
        try:
            await kube.apply(
                *(
                    datastore(
                        f"shop-{engine}",
                        namespace,
                        engine=engine,
                        version=version,
                        deletionPolicy="Delete",
                    )
                    for engine, (version, *_) in ENGINES.items()
                )
            )

            async def provisioning() -> bool:
                objects = await kube.list(DATASTORES, namespace)
                reasons = [kube.condition(d, "Provisioning").get("reason") for d in objects]
                return len(objects) == len(ENGINES) and set(reasons) == {"Creating"}

            await kube.eventually(provisioning, what="every Datastore to report Provisioning")
            for obj in await kube.list(DATASTORES, namespace):
                assert obj["status"]["readyReplicas"] == 0, obj["status"]
        finally:
            await kube.kubectl("uncordon", *cordoned)
        async with asyncio.TaskGroup() as group:
            for engine in ENGINES:
                group.create_task(_provision_and_update(kube, namespace, engine, history))


async def test_deletion_retains_or_deletes_the_data_as_the_policy_says(kube, new_namespace) -> None:
    namespace = await new_namespace("deletion")
    await kube.apply(
        datastore("keep", namespace, engine="redis", version="7.4", deletionPolicy="Retain"),
        datastore("drop", namespace, engine="redis", version="7.4", deletionPolicy="Delete"),
    )
    await kube.datastores_ready(namespace, ["keep", "drop"])
    kept_secret = await kube.get("secrets", "keep-connection", namespace)
    kept_claim = await kube.get("persistentvolumeclaims", "data-keep-0", namespace)
    dropped_claim = await kube.get("persistentvolumeclaims", "data-drop-0", namespace)
    dropped_volume = dropped_claim["spec"]["volumeName"]

    await kube.kubectl("delete", DATASTORES, "keep", "drop", "-n", namespace, "--wait=false")

    async def gone() -> bool:
        return not await kube.list(DATASTORES, namespace)

    # The finalizer ran for both: only then does the API server let the objects go.
    await kube.eventually(gone, what="both Datastores to be deleted through the finalizer")

    async def collected() -> bool:
        left = [s["metadata"]["name"] for s in await kube.list("statefulsets", namespace)]
        drop = await kube.get("persistentvolumeclaims", "data-drop-0", namespace)
        volume = await kube.get("persistentvolumes", dropped_volume)
        secret = await kube.get("secrets", "drop-connection", namespace)
        return not left and drop is None and volume is None and secret is None

    await kube.eventually(
        collected, what="the Delete policy's StatefulSet, claim, volume and Secret"
    )
    claim = await kube.get("persistentvolumeclaims", "data-keep-0", namespace)
    assert claim is not None, "Retain must keep the volume claim"
    assert claim["metadata"]["uid"] == kept_claim["metadata"]["uid"]
    secret = await kube.get("secrets", "keep-connection", namespace)
    assert secret is not None, "Retain must keep the connection Secret"
    assert not secret["metadata"].get("ownerReferences"), "released from garbage collection"
    assert secret["metadata"]["labels"]["emporium.io/retained"] == "true"

    # A new Datastore of the same name adopts both: same data, same credentials.
    await kube.apply(
        datastore("keep", namespace, engine="redis", version="7.4", deletionPolicy="Retain")
    )
    await kube.datastores_ready(namespace, ["keep"])
    new_uid = (await kube.get(DATASTORES, "keep", namespace))["metadata"]["uid"]
    secret = await kube.get("secrets", "keep-connection", namespace)
    assert owned_by(secret, new_uid)
    assert "emporium.io/retained" not in secret["metadata"]["labels"]
    assert secret_value(secret, "password") == secret_value(kept_secret, "password")
    claim = await kube.get("persistentvolumeclaims", "data-keep-0", namespace)
    assert claim["metadata"]["uid"] == kept_claim["metadata"]["uid"]


SCHEMA_REFUSALS = [
    ({"engine": "postgres", "version": "16.0"}, "spec.engine"),
    ({"engine": "redis", "version": "latest"}, "spec.version"),
    ({"engine": "redis", "version": "7.4", "replicas": 0}, "spec.replicas"),
    ({"engine": "redis", "version": "7.4", "replicas": 8}, "spec.replicas"),
    ({"engine": "mongodb", "version": "8.0", "replicas": 2}, "odd number of replicas"),
    ({"engine": "redis", "version": "7.4", "storage": {"size": "lots"}}, "spec.storage.size"),
    ({"engine": "redis", "version": "7.4", "deletionPolicy": "Orphan"}, "spec.deletionPolicy"),
    ({"version": "7.4"}, "spec.engine"),
]


async def test_the_api_server_refuses_what_the_schema_forbids(kube, new_namespace) -> None:
    namespace = await new_namespace("schema")

    async def refused(index: int, spec: dict[str, Any], field: str) -> None:
        manifest = datastore(f"bad-{index}", namespace, **spec)
        result = await kube.kubectl("create", "-f", "-", stdin=json.dumps(manifest), check=False)
        assert result.returncode != 0, f"accepted: {spec}"
        assert (
            "Invalid value" in result.stderr
            or "Unsupported value" in result.stderr
            or ("Required value" in result.stderr)
        ), result.stderr
        assert field in result.stderr, result.stderr

    await asyncio.gather(*(refused(i, *case) for i, case in enumerate(SCHEMA_REFUSALS)))
    assert not await kube.list(DATASTORES, namespace)

    # Immutable fields: the CRD's validation rules compare with the stored object.
    await kube.apply(datastore("cache", namespace, engine="redis", version="7.4"))
    for change, message in [
        ({"engine": "mongodb"}, "engine is immutable"),
        ({"storage": {"size": "2Gi"}}, "storage is immutable"),
    ]:
        result = await patch_spec(kube, namespace, "cache", change, check=False)
        assert result.returncode != 0, change
        assert message in result.stderr, result.stderr
    stored = await kube.get(DATASTORES, "cache", namespace)
    assert stored["spec"]["engine"] == "redis"
    assert stored["spec"]["storage"]["size"] == "1Gi"


async def test_the_operator_refuses_what_the_schema_cannot_express(kube, new_namespace) -> None:
    namespace = await new_namespace("refusals")
    await kube.apply(
        datastore("old", namespace, engine="mongodb", version="5.0"),
        datastore(
            "tight",
            namespace,
            engine="redis",
            version="7.4",
            resources={"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}},
        ),
        datastore("cache", namespace, engine="redis", version="7.4"),
    )

    async def failed(name: str, words: str) -> None:
        async def check() -> bool:
            degraded = kube.condition(await kube.get(DATASTORES, name, namespace), "Degraded")
            return degraded.get("reason") == "InvalidSpec" and words in degraded["message"]

        await kube.eventually(check, what=f"{name} to be refused ({words})")
        obj = await kube.get(DATASTORES, name, namespace)
        assert obj["status"]["phase"] == "Failed"
        assert kube.condition(obj, "Ready")["status"] == "False"

    await asyncio.gather(failed("old", "too old"), failed("tight", "below the request"))
    for name in ("old", "tight"):
        assert await kube.get("statefulsets", name, namespace) is None, name

    # A downgrade of a running store is refused and not applied; it keeps running.
    await kube.datastores_ready(namespace, ["cache"])
    await patch_spec(kube, namespace, "cache", {"version": "7.2"})
    await failed("cache", "downgrade")
    sts = await kube.get("statefulsets", "cache", namespace)
    assert engine_container(sts)["image"].endswith(":7.4")
    assert sts["status"]["readyReplicas"] == 1


async def test_the_short_names_resolve_to_datastores_only(kube, new_namespace) -> None:
    """kubectl resolves a short name to the first resource that claims it; a name the built-in
    resources already use (`ds`: DaemonSets) would never reach the Datastores."""
    resources = await kube.api.api_resources()
    [ours] = [r for r in resources if r["version"].startswith(f"{GROUP}/")]
    taken = {name for r in resources if r is not ours for name in r.get("shortNames", [])}
    assert ours["shortNames"], ours
    assert not set(ours["shortNames"]) & taken, set(ours["shortNames"]) & taken
    namespace = await new_namespace("names")
    await kube.apply(datastore("cache", namespace, engine="redis", version="7.4"))
    for name in ours["shortNames"]:
        listed = await kube.kubectl("get", name, "-n", namespace, "-o", "name")
        assert listed.stdout.split() == [f"datastore.{GROUP}/cache"], listed
