"""RBAC as the API server decides it: the operator's ServiceAccount may do what the operator
does and nothing else; the services' ServiceAccounts read no Secret (their pods get theirs from
the kubelet, as environment variables)."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.cluster

DATASTORES = "datastores.emporium.io"
CRDS = "customresourcedefinitions.apiextensions.k8s.io"
# What emporium_operator (handlers, kube) and kopf itself do.
OPERATOR_NEEDS = [
    *(("list", CRDS), ("watch", CRDS)),
    *((verb, DATASTORES) for verb in ("get", "list", "watch", "patch")),
    *(("get/status", DATASTORES), ("patch/status", DATASTORES)),
    *((verb, kind) for kind in ("secrets", "services") for verb in ("get", "create", "patch")),
    *((verb, "statefulsets.apps") for verb in ("get", "list", "watch", "create", "patch")),
    *((verb, "poddisruptionbudgets.policy") for verb in ("get", "create", "patch")),
    *(("get", "jobs.batch"), ("create", "jobs.batch")),
    *(("list", "persistentvolumeclaims"), ("delete", "persistentvolumeclaims")),
    *(("create", "events"), ("patch", "events"), ("create", "events.events.k8s.io")),
]
OPERATOR_REFUSED = [
    # Secrets only by name: no listing or watching them all, no deleting.
    *((verb, "secrets") for verb in ("list", "watch", "delete", "update", "deletecollection")),
    *((verb, DATASTORES) for verb in ("create", "delete", "update")),
    *(("delete", "statefulsets.apps"), ("update", "statefulsets.apps")),
    *(("delete", "services"), ("delete", "poddisruptionbudgets.policy")),
    *(("delete", "jobs.batch"), ("update", "jobs.batch")),
    *((verb, "persistentvolumeclaims") for verb in ("get", "create", "patch")),
    *((verb, "pods") for verb in ("get", "list", "create", "delete")),
    ("create/exec", "pods"),
    *(("create", "deployments.apps"), ("patch", "deployments.apps")),
    *(("get", "configmaps"), ("delete", "persistentvolumes"), ("get", "nodes")),
    *(("delete", "namespaces"), ("create/token", "serviceaccounts")),
    *((verb, CRDS) for verb in ("create", "patch", "delete")),
    *((verb, "clusterroles.rbac.authorization.k8s.io") for verb in ("create", "bind", "escalate")),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io"),
    ("impersonate", "serviceaccounts"),
]


async def _decisions(kube, user: str, namespace: str, checks) -> dict[tuple[str, str], bool]:
    limit = asyncio.Semaphore(8)

    async def decide(verb: str, resource: str) -> bool:
        async with limit:
            return await kube.can_i(user, verb, resource, namespace)

    answers = await asyncio.gather(*(decide(verb, resource) for verb, resource in checks))
    return dict(zip(checks, answers, strict=True))


async def test_the_operator_account_may_do_exactly_what_the_operator_does(
    kube, operator_install, new_namespace
) -> None:
    namespace = await new_namespace("rbac")
    user = f"system:serviceaccount:{operator_install.namespace}:{operator_install.service_account}"
    granted = await _decisions(kube, user, namespace, OPERATOR_NEEDS)
    assert all(granted.values()), [check for check, yes in granted.items() if not yes]
    refused = await _decisions(kube, user, namespace, OPERATOR_REFUSED)
    assert not any(refused.values()), [check for check, yes in refused.items() if yes]


async def test_service_accounts_read_no_secrets(kube, platform_release, tmp_path) -> None:
    namespace = platform_release.namespace
    secrets = [s["metadata"]["name"] for s in await kube.list("secrets", namespace)]
    assert any(name.endswith("-connection") for name in secrets), secrets
    for service in platform_release.deployments:
        user = f"system:serviceaccount:{namespace}:{service}"
        checks = [("list", "secrets"), ("watch", "secrets")]
        checks += [("get", f"secrets/{name}") for name in secrets]
        allowed = await _decisions(kube, user, namespace, checks)
        assert not any(allowed.values()), (service, [c for c, yes in allowed.items() if yes])

    # And with a real token of one of them, not impersonation: the request itself is refused.
    kubeconfig = await kube.token_kubeconfig(namespace, "catalog", tmp_path / "catalog")
    for secret in ("identity-mongodb-connection", "catalog-mongodb-connection"):
        result = await kube.kubectl(
            "get", "secret", secret, "-n", namespace, kubeconfig=kubeconfig, check=False
        )
        assert result.returncode != 0, secret
        assert "Forbidden" in result.stderr, result.stderr
