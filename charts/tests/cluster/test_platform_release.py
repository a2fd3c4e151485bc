"""The umbrella chart installed as production does it, then upgraded, rolled back and drained
under the real Deployment, ReplicaSet, HPA, disruption and StatefulSet controllers."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import yaml
from emporium_platform.registry import load as load_registry

pytestmark = pytest.mark.cluster

RELEASE = "emporium"
# Fine under the "baseline" profile, refused by "restricted" (no seccomp profile, may escalate,
# keeps its capabilities, may run as root).
UNRESTRICTED_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "unrestricted"},
    "spec": {"containers": [{"name": "shell", "image": "busybox"}]},
}


def missing_from(rendered: Any, stored: Any, path: str = "") -> list[str]:
    """Where the stored object lost or changed something that was sent (the API server only
    adds defaults on top of what it accepts)."""
    if isinstance(rendered, dict):
        if not isinstance(stored, dict):
            return [f"{path}: {stored!r}"]
        return [
            problem
            for key, value in rendered.items()
            for problem in missing_from(value, stored.get(key), f"{path}.{key}")
        ]
    if isinstance(rendered, list):
        if not isinstance(stored, list) or len(stored) != len(rendered):
            return [f"{path}: {stored!r}"]
        return [
            problem
            for index, (sent, kept) in enumerate(zip(rendered, stored, strict=True))
            for problem in missing_from(sent, kept, f"{path}[{index}]")
        ]
    return [] if rendered == stored else [f"{path}: sent {rendered!r}, stored {stored!r}"]


async def test_the_release_is_stored_as_rendered_and_runs(kube, platform_release) -> None:
    namespace = platform_release.namespace
    manifest = await kube.helm("get", "manifest", RELEASE, "-n", namespace)
    rendered = [doc for doc in yaml.safe_load_all(manifest.stdout) if doc]
    kinds = Counter(doc["kind"] for doc in rendered)
    services = len(platform_release.deployments)
    for kind in ("Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        assert kinds[kind] == services, kinds
    registry = load_registry()
    monitored = [name for name in platform_release.deployments if registry[name].kind.metrics]
    assert kinds["ServiceMonitor"] == len(monitored), kinds
    assert kinds["NetworkPolicy"] > services, kinds
    assert kinds["Datastore"] == len(platform_release.datastores) > 0, kinds
    for doc in rendered:
        # Kind.version.group: read each object in the version it was sent in.
        group, _, version = doc["apiVersion"].rpartition("/")
        resource = f"{doc['kind']}.{version}.{group}" if group else doc["kind"]
        stored = await kube.get(resource, doc["metadata"]["name"], namespace)
        where = f"{doc['kind']} {doc['metadata']['name']}"
        assert stored is not None, f"{where} is missing"
        # Probes, security contexts, spread constraints, policies: nothing was dropped or
        # rewritten (an unknown or misplaced field would be pruned or refused).
        for key in ("spec", "data"):
            if key in doc:
                assert not missing_from(doc[key], stored[key], key), (
                    where,
                    missing_from(doc[key], stored[key], key),
                )

    for name, replicas in platform_release.deployments.items():
        deployment = await kube.get("deployments", name, namespace)
        assert deployment["status"]["availableReplicas"] == replicas, deployment["status"]
        assert kube.condition(deployment, "Available")["status"] == "True"
        hpa = await kube.get("horizontalpodautoscalers", name, namespace)
        assert hpa["status"]["desiredReplicas"] == replicas == hpa["spec"]["minReplicas"]
    for pdb in await kube.list("poddisruptionbudgets", namespace):
        status = pdb["status"]
        assert status["disruptionsAllowed"] >= 1, (pdb["metadata"]["name"], status)
        assert status["currentHealthy"] == status["expectedPods"], status
    for name in platform_release.datastores:
        secret = await kube.get("secrets", f"{name}-connection", namespace)
        assert secret is not None, name
        assert "url" in secret["data"], name

    # The pods above were admitted by Pod Security "restricted", which is enforced here.
    result = await kube.kubectl(
        "create", "-n", namespace, "-f", "-", stdin=json.dumps(UNRESTRICTED_POD), check=False
    )
    assert result.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in result.stderr, result.stderr


def _losses(history, floor: dict[str, int]) -> list[str]:
    """Every moment a Deployment had fewer available replicas (or a smaller spec) than before."""
    problems = []
    for state in history.states():
        for name, minimum in floor.items():
            deployment = state.get(name)
            if deployment is None:
                problems.append(f"{name} deleted")
                continue
            available = deployment["status"].get("availableReplicas", 0)
            if available < minimum or deployment["spec"]["replicas"] < minimum:
                problems.append(f"{name}: {available} available of {deployment['spec']}")
    return problems


def _rolled_to(deployment: dict[str, Any], tag: str, replicas: int) -> bool:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    status = deployment["status"]
    return (
        all(c["image"].endswith(f":{tag}") for c in containers)
        and status.get("observedGeneration") == deployment["metadata"]["generation"]
        and status.get("updatedReplicas") == status.get("availableReplicas") == replicas
        and status.get("replicas") == replicas
    )


async def _roll(kube, release, command: tuple[str, ...], tag: str) -> None:
    """Run a helm command that changes the image tag; every Deployment must roll to `tag`
    with no moment below its desired capacity (maxUnavailable 0, readiness gates, minReady)."""
    namespace = release.namespace
    async with kube.record("deployments", namespace) as history:
        await kube.helm(*command, "--wait", "--timeout=5m")
        for name, replicas in release.deployments.items():
            deployment = await kube.get("deployments", name, namespace)
            assert _rolled_to(deployment, tag, replicas), (name, deployment["status"])
    assert not _losses(history, release.deployments), _losses(history, release.deployments)[:10]
    for name, replicas in release.deployments.items():
        # The watch saw the rollout itself: new pods came up while old ones still served.
        partial = [
            d
            for d in history.of(name)
            if d["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f":{tag}")
            and 0 < d["status"].get("updatedReplicas", 0) < replicas
        ]
        assert partial, f"{name}: no intermediate state of the rollout was observed"


async def test_upgrade_and_rollback_never_drop_below_the_desired_replicas(
    kube, platform_release
) -> None:
    release = platform_release
    upgrade = ("upgrade", *release.with_tag(release.upgrade_tag))
    await _roll(kube, release, upgrade, release.upgrade_tag)
    await _roll(kube, release, ("rollback", RELEASE, "1", "-n", release.namespace), release.tag)
    history = json.loads(
        (await kube.helm("history", RELEASE, "-n", release.namespace, "-o", "json")).stdout
    )
    assert [h["revision"] for h in history] == [1, 2, 3]
    assert history[-1]["status"] == "deployed"
    assert "Rollback to 1" in history[-1]["description"]


def _ready(pod: dict[str, Any]) -> bool:
    """Counts toward a budget: Ready and not on its way out."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _selects(selector: dict[str, str], pod: dict[str, Any]) -> bool:
    return selector.items() <= (pod["metadata"].get("labels") or {}).items()


async def test_a_node_drain_is_throttled_by_the_disruption_budgets(kube, platform_release) -> None:
    namespace = platform_release.namespace
    pods = await kube.list("pods", namespace)
    # Each budget: its selector, the pods it expects, the fewest it lets a drain leave ready.
    budgets = {
        pdb["metadata"]["name"]: (
            dict(pdb["spec"]["selector"]["matchLabels"]),
            pdb["status"]["expectedPods"],
            pdb["status"]["expectedPods"] - pdb["spec"]["maxUnavailable"],
        )
        for pdb in await kube.list("poddisruptionbudgets", namespace)
    }
    # Drain the node that holds two members of some budget: its second eviction has to wait
    # until the first one's replacement is ready elsewhere.
    per_node = Counter(
        (pod["spec"]["nodeName"], name)
        for pod in pods
        if _ready(pod)
        for name, (selector, _, _) in budgets.items()
        if _selects(selector, pod)
    )
    node = max(per_node, key=lambda key: per_node[key])[0]
    assert per_node.most_common(1)[0][1] >= 2, per_node

    try:
        async with kube.record("pods", namespace) as history:
            drain = await kube.kubectl(
                "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=3m"
            )

            async def moved() -> bool:
                current = await kube.list("pods", namespace)
                left = [p["metadata"]["name"] for p in current if p["spec"].get("nodeName") == node]
                assert not left, f"still on {node}: {left}"
                for name, (selector, expected, _) in budgets.items():
                    ready = [p for p in current if _selects(selector, p) and _ready(p)]
                    assert len(ready) == expected, f"{name}: {len(ready)} ready"
                return True

            # every service's pods and datastores: replacements queue on a loaded machine
            await kube.eventually(moved, what=f"every pod replaced away from {node}", within=240.0)
    finally:
        await kube.kubectl("uncordon", node)

    # Throttled: the Eviction API refused at least once (kubectl retries those evictions).
    assert "would violate the pod's disruption budget" in drain.stderr + drain.stdout, drain
    shortfalls = [
        f"{name}: {sum(_selects(selector, p) and _ready(p) for p in state.values())} ready"
        for state in history.states()
        for name, (selector, _, minimum) in budgets.items()
        if sum(_selects(selector, p) and _ready(p) for p in state.values()) < minimum
    ]
    assert not shortfalls, shortfalls[:10]
    evicted = {obj["metadata"]["name"] for event, obj in history.events if event == "DELETED"}
    assert evicted, "the drain evicted nothing"
