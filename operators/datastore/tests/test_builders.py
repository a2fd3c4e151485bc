"""The pure parts of the operator: spec validation, object builders and status logic."""

import base64
import json
from typing import Any

import httpx
import kopf
import kr8s
import kubernetes_validate
import pytest
from emporium_operator import kube
from emporium_operator.builders import (
    Credentials,
    Datastore,
    build_children,
    build_headless_service,
    build_mongodb_replicaset_job,
    build_pdb,
    build_secret,
    build_service,
    build_statefulset,
    connection_url,
    update_patch,
)
from emporium_operator.constants import LABEL_DATASTORE, LABEL_RETAINED, Engine
from emporium_operator.spec import InvalidSpecError, check_transition, parse_spec
from emporium_operator.status import Observed, compute_status, invalid_spec_status

pytestmark = pytest.mark.unit

KUBERNETES_VERSION = "1.35.0"
CREDS = Credentials(password="p@ss/word+1", keyfile="k" * 96)
VERSIONS = {"mongodb": "8.0", "redis": "7.4", "opensearch": "2.19.1"}


def datastore(engine: str = "mongodb", **spec: Any) -> Datastore:
    return Datastore(
        name=f"catalog-{engine}",
        namespace="shop",
        uid="0f6c2a9e-1111-2222-3333-444455556666",
        spec=parse_spec({"engine": engine, "version": VERSIONS[engine], **spec}),
    )


def _container(sts: dict[str, Any]) -> dict[str, Any]:
    return sts["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("engine", list(VERSIONS))
@pytest.mark.parametrize("replicas", [1, 3])
def test_every_child_is_a_valid_kubernetes_object(engine: str, replicas: int) -> None:
    ds = datastore(engine, replicas=replicas, deletionPolicy="Delete")
    for child in build_children(ds, CREDS):
        kubernetes_validate.validate(child, KUBERNETES_VERSION, strict=True)
        meta = child["metadata"]
        assert meta["namespace"] == "shop"
        assert meta["labels"][LABEL_DATASTORE] == ds.name
        assert meta["ownerReferences"][0]["uid"] == ds.uid


@pytest.mark.parametrize("engine", list(VERSIONS))
def test_pods_fit_the_restricted_pod_security_profile(engine: str) -> None:
    sts = build_statefulset(datastore(engine))
    pod = sts["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"] + pod.get("initContainers", []):
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"] == {"drop": ["ALL"]}
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {p["name"] for p in _container(sts)["ports"]} >= {"client"}
    assert {"startupProbe", "readinessProbe", "livenessProbe"} <= _container(sts).keys()


def test_connection_urls_carry_escaped_credentials_and_survive_scaling() -> None:
    mongo = connection_url(datastore("mongodb"), CREDS)
    assert mongo == (
        "mongodb://root:p%40ss%2Fword%2B1@catalog-mongodb.shop.svc:27017/"
        "?replicaSet=rs0&authSource=admin"
    )
    assert connection_url(datastore("mongodb", replicas=5), CREDS) == mongo
    assert connection_url(datastore("redis"), CREDS) == (
        "redis://default:p%40ss%2Fword%2B1@catalog-redis.shop.svc:6379/0"
    )
    assert (
        connection_url(datastore("opensearch"), CREDS) == "http://catalog-opensearch.shop.svc:9200"
    )


def test_secret_holds_what_services_and_members_need() -> None:
    data = build_secret(datastore("mongodb"), CREDS)["data"]
    decoded = {k: base64.b64decode(v).decode() for k, v in data.items()}
    assert decoded["password"] == CREDS.password
    assert decoded["keyfile"] == CREDS.keyfile
    assert decoded["url"].startswith("mongodb://root:")
    opensearch = build_secret(datastore("opensearch"), CREDS)["data"]
    assert "password" not in opensearch  # no security plugin: no credentials to hand out


def test_only_members_are_routed_to_and_counted_by_the_budget() -> None:
    """The replica set Job's pods share the datastore's labels (its NetworkPolicy admits them by
    `emporium.io/datastore`); the Services and the PDB must not select them: a PDB over a Job's
    pods refuses every eviction, so a node drain could never move the members."""
    ds = datastore("mongodb", replicas=3)
    member = build_statefulset(ds)["spec"]["template"]["metadata"]["labels"]
    job_pod = build_mongodb_replicaset_job(ds)["spec"]["template"]["metadata"]["labels"]
    assert job_pod[LABEL_DATASTORE] == member[LABEL_DATASTORE]
    selectors = [
        build_pdb(ds)["spec"]["selector"]["matchLabels"],
        build_service(ds)["spec"]["selector"],
        build_headless_service(ds)["spec"]["selector"],
        *(
            c["labelSelector"]["matchLabels"]
            for c in build_statefulset(ds)["spec"]["template"]["spec"]["topologySpreadConstraints"]
        ),
    ]
    for selector in selectors:
        assert selector.items() <= member.items()
        assert not selector.items() <= job_pod.items()


def test_redis_clients_only_reach_the_primary() -> None:
    selector = build_service(datastore("redis", replicas=3))["spec"]["selector"]
    assert selector["statefulset.kubernetes.io/pod-name"] == "catalog-redis-0"
    command = _container(build_statefulset(datastore("redis", replicas=3)))["command"][2]
    assert "--replicaof catalog-redis-0.catalog-redis-headless.shop.svc 6379" in command
    assert "--requirepass" in command


def test_opensearch_cluster_bootstrap_and_heap() -> None:
    single = {
        e["name"]: e.get("value")
        for e in _container(build_statefulset(datastore("opensearch")))["env"]
    }
    assert single["discovery.type"] == "single-node"
    ds = datastore("opensearch", replicas=3, resources={"limits": {"memory": "4Gi"}})
    env = {e["name"]: e.get("value") for e in _container(build_statefulset(ds))["env"]}
    assert env["cluster.initial_cluster_manager_nodes"] == (
        "catalog-opensearch-0,catalog-opensearch-1,catalog-opensearch-2"
    )
    assert env["OPENSEARCH_JAVA_OPTS"] == "-Xms2048m -Xmx2048m"


def test_replica_set_job_is_named_after_its_membership() -> None:
    one = build_mongodb_replicaset_job(datastore("mongodb"))
    three = build_mongodb_replicaset_job(datastore("mongodb", replicas=3))
    assert one["metadata"]["name"] != three["metadata"]["name"]
    assert (
        one["metadata"]["name"]
        == build_mongodb_replicaset_job(datastore("mongodb"))["metadata"]["name"]
    )
    env = {
        e["name"]: e.get("value") for e in three["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert len(json.loads(env["MEMBERS"])) == 3


@pytest.mark.parametrize(("policy", "when_deleted"), [("Retain", "Retain"), ("Delete", "Delete")])
def test_deletion_policy_reaches_the_claims(policy: str, when_deleted: str) -> None:
    sts = build_statefulset(datastore("redis", deletionPolicy=policy))
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == when_deleted
    assert (
        sts["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"][LABEL_DATASTORE]
        == "catalog-redis"
    )


def test_update_patch_touches_only_mutable_fields() -> None:
    sts_patch = update_patch(build_statefulset(datastore("mongodb", replicas=3)))
    assert sts_patch is not None
    assert set(sts_patch["spec"]) <= {
        "replicas",
        "template",
        "updateStrategy",
        "minReadySeconds",
        "persistentVolumeClaimRetentionPolicy",
    }
    assert "volumeClaimTemplates" not in sts_patch["spec"]
    assert update_patch(build_mongodb_replicaset_job(datastore("mongodb"))) is None
    secret_patch = update_patch(build_secret(datastore("redis"), CREDS))
    assert secret_patch is not None
    assert secret_patch["metadata"]["labels"][LABEL_RETAINED] is None
    assert secret_patch["metadata"]["ownerReferences"][0]["kind"] == "Datastore"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"engine": "postgres", "version": "16.0"}, "engine"),
        ({"engine": "mongodb", "version": "latest"}, "MAJOR.MINOR"),
        ({"engine": "mongodb", "version": "5.0"}, "too old"),
        ({"engine": "mongodb", "version": "8.0", "replicas": 2}, "odd"),
        ({"engine": "redis", "version": "7.4", "replicas": 9}, "outside"),
        ({"engine": "redis", "version": "7.4", "replicas": True}, "integer"),
        ({"engine": "redis", "version": "7.4", "deletionPolicy": "Orphan"}, "deletionPolicy"),
        ({"engine": "redis", "version": "7.4", "storage": {"size": "lots"}}, "quantity"),
        (
            {
                "engine": "redis",
                "version": "7.4",
                "resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}},
            },
            "below",
        ),
    ],
)
def test_invalid_specs_are_refused(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSpecError, match=message):
        parse_spec(spec)


def test_defaults() -> None:
    spec = parse_spec({"engine": Engine.REDIS.value, "version": "7.4"})
    assert (spec.replicas, spec.storage_size, spec.deletion_policy.value) == (1, "10Gi", "Retain")


def test_transitions() -> None:
    old = parse_spec({"engine": "mongodb", "version": "7.0", "replicas": 1})
    check_transition(old, parse_spec({"engine": "mongodb", "version": "8.0", "replicas": 3}))
    with pytest.raises(InvalidSpecError, match="downgrade"):
        check_transition(old, parse_spec({"engine": "mongodb", "version": "6.0"}))
    with pytest.raises(InvalidSpecError, match=r"downgrade 8\.0"):
        check_transition(
            old, parse_spec({"engine": "mongodb", "version": "7.0"}), running_version="8.0"
        )
    with pytest.raises(InvalidSpecError, match="engine"):
        check_transition(old, parse_spec({"engine": "redis", "version": "7.4"}))
    with pytest.raises(InvalidSpecError, match="storage"):
        check_transition(
            old, parse_spec({"engine": "mongodb", "version": "7.0", "storage": {"size": "20Gi"}})
        )


def _sts(generation: int, *, replicas: int, ready: int, current: str = "a", update: str = "a"):
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": generation,
            "readyReplicas": ready,
            "updatedReplicas": replicas,
            "currentRevision": current,
            "updateRevision": update,
        },
    }


def test_status_phases_follow_the_statefulset() -> None:
    now = "2026-01-01T00:00:00+00:00"
    creating = compute_status(
        Observed.from_statefulset(_sts(1, replicas=3, ready=1)),
        previous_conditions=[],
        ready_generation=None,
        now=now,
    )
    assert (creating["phase"], creating["readyGeneration"]) == ("Provisioning", None)
    ready = compute_status(
        Observed.from_statefulset(_sts(1, replicas=3, ready=3)),
        previous_conditions=creating["conditions"],
        ready_generation=None,
        now="later",
    )
    assert (ready["phase"], ready["readyGeneration"]) == ("Ready", 1)
    degraded = compute_status(
        Observed.from_statefulset(_sts(1, replicas=3, ready=2)),
        previous_conditions=ready["conditions"],
        ready_generation=1,
        now="later still",
    )
    assert degraded["phase"] == "Degraded"
    rolling = compute_status(
        Observed.from_statefulset(_sts(2, replicas=3, ready=3, current="a", update="b")),
        previous_conditions=degraded["conditions"],
        ready_generation=1,
        now="even later",
    )
    conditions = {c["type"]: c for c in rolling["conditions"]}
    assert conditions["Provisioning"]["reason"] == "RollingOut"
    # lastTransitionTime moves only when a condition flips.
    ready_conditions = {c["type"]: c for c in ready["conditions"]}
    degraded_conditions = {c["type"]: c for c in degraded["conditions"]}
    assert (
        degraded_conditions["Provisioning"]["lastTransitionTime"]
        == ready_conditions["Provisioning"]["lastTransitionTime"]
    )
    assert degraded_conditions["Degraded"]["lastTransitionTime"] == "later still"


def test_invalid_spec_status() -> None:
    status = invalid_spec_status("nope", previous_conditions=[], now="t")
    conditions = {c["type"]: c for c in status["conditions"]}
    assert status["phase"] == "Failed"
    assert conditions["Degraded"]["status"] == "True"
    assert conditions["Ready"]["reason"] == "InvalidSpec"


@pytest.mark.parametrize(
    ("error", "expected", "delay"),
    [
        (kr8s.ServerError("unavailable", response=httpx.Response(503)), kopf.TemporaryError, 10),
        (kr8s.ServerError("conflict", response=httpx.Response(409)), kopf.TemporaryError, 10),
        (kr8s.ServerError("forbidden", response=httpx.Response(403)), kopf.TemporaryError, 60),
        (kr8s.ServerError("invalid", response=httpx.Response(422)), kopf.PermanentError, None),
        (httpx.ConnectError("refused"), kopf.TemporaryError, 10),
    ],
)
async def test_api_failures_map_to_the_retry_policy(
    error: Exception, expected: type[Exception], delay: int | None
) -> None:
    with pytest.raises(expected) as caught:
        async with kube.api_errors("creating StatefulSet x"):
            raise error
    assert "creating StatefulSet x" in str(caught.value)
    if delay is not None:
        assert caught.value.delay == delay
