"""The operator's two charts (CRDs apart from the operator) and the raw manifests in k8s/."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

pytestmark = pytest.mark.chart

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO / "charts"
K8S = REPO / "k8s"
CRD_FILE = "datastores.emporium.io.yaml"
KUBERNETES_VERSION = "1.35.0"


def _docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def _datastore_schema() -> dict[str, Any]:
    crd = yaml.safe_load((K8S / "crds" / CRD_FILE).read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def test_the_crd_chart_ships_the_canonical_crd() -> None:
    chart_copy = CHARTS / "datastore-operator-crds" / "templates" / CRD_FILE
    assert chart_copy.read_bytes() == (K8S / "crds" / CRD_FILE).read_bytes(), (
        f"copy k8s/crds/{CRD_FILE} into charts/datastore-operator-crds/templates/"
    )


def test_the_crd_is_valid_and_complete() -> None:
    crd = yaml.safe_load((K8S / "crds" / CRD_FILE).read_text())
    kubernetes_validate.validate(crd, KUBERNETES_VERSION, strict=True)
    version = crd["spec"]["versions"][0]
    assert crd["spec"]["group"] == "emporium.io"
    assert version["subresources"] == {"status": {}}
    assert {c["name"] for c in version["additionalPrinterColumns"]} >= {
        "Engine",
        "Version",
        "Replicas",
        "Ready",
        "Phase",
        "Age",
    }
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["engine"]["enum"] == ["mongodb", "redis", "opensearch"]
    assert spec["properties"]["deletionPolicy"]["enum"] == ["Retain", "Delete"]
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


@pytest.mark.parametrize(
    ("spec", "valid"),
    [
        ({"engine": "mongodb", "version": "8.0"}, True),
        ({"engine": "redis", "version": "7.4.2", "replicas": 2, "deletionPolicy": "Delete"}, True),
        ({"engine": "postgres", "version": "16.0"}, False),
        ({"engine": "redis", "version": "latest"}, False),
        ({"engine": "redis", "version": "7.4", "replicas": 0}, False),
        ({"engine": "redis", "version": "7.4", "storage": {"size": "lots"}}, False),
        ({"engine": "redis", "version": "7.4", "deletionPolicy": "Orphan"}, False),
        ({"version": "7.4"}, False),
    ],
)
def test_the_crd_schema_accepts_and_refuses(spec: dict[str, Any], valid: bool) -> None:
    instance = {
        "apiVersion": "emporium.io/v1alpha1",
        "kind": "Datastore",
        "metadata": {"name": "x"},
        "spec": spec,
    }
    if valid:
        jsonschema.validate(instance, _datastore_schema())
    else:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(instance, _datastore_schema())


def test_operator_chart_renders_valid_least_privilege_objects(helm: Callable[..., str]) -> None:
    manifests = _docs(
        helm(
            "template",
            "datastore-operator",
            str(CHARTS / "datastore-operator"),
            "--namespace",
            "emporium-system",
            "--kube-version",
            KUBERNETES_VERSION,
        )
    )
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    kinds = {m["kind"] for m in manifests}
    assert "CustomResourceDefinition" not in kinds, "CRDs live in their own chart"
    role = next(m for m in manifests if m["kind"] == "ClusterRole")
    for rule in role["rules"]:
        for field in ("verbs", "resources", "apiGroups"):
            assert "*" not in rule[field], rule
        if "secrets" in rule["resources"]:
            assert not {"list", "watch", "delete"} & set(rule["verbs"]), "Secrets are read by name"
    granted = {
        (g, r): set(rule["verbs"])
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    # What the handlers do (emporium_operator.kube) must be granted, nothing more sweeping.
    assert {"create", "patch", "get"} <= granted["apps", "statefulsets"]
    assert {"get", "patch"} <= granted["emporium.io", "datastores/status"]
    assert {"list", "delete"} == granted["", "persistentvolumeclaims"]
    assert {"get", "create"} == granted["batch", "jobs"]
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate", "never two operators at once"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_crd_chart_renders_the_crd(helm: Callable[..., str]) -> None:
    (crd,) = _docs(helm("template", "crds", str(CHARTS / "datastore-operator-crds")))
    assert crd["metadata"]["name"] == "datastores.emporium.io"


@pytest.mark.parametrize("target", ["base", "examples", "overlays/dev", "overlays/production"])
def test_k8s_manifests_build_and_validate(kubectl: Callable[..., str], target: str) -> None:
    manifests = _docs(kubectl("kustomize", str(K8S / target)))
    assert manifests
    schema = _datastore_schema()
    for manifest in manifests:
        if manifest["kind"] == "Datastore":
            jsonschema.validate(manifest, schema)
        else:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        if manifest["kind"] == "Namespace":
            labels = manifest["metadata"]["labels"]
            assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    if target == "overlays/production":
        stores = [m for m in manifests if m["kind"] == "Datastore"]
        assert all(m["spec"]["deletionPolicy"] == "Retain" for m in stores)
        assert all(m["spec"]["replicas"] % 2 == 1 for m in stores if m["spec"]["engine"] != "redis")


def test_operator_values_schema(helm: Callable[..., str]) -> None:
    chart = CHARTS / "datastore-operator"
    schema = json.loads((chart / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load((chart / "values.yaml").read_text()), schema)
    out = helm("template", "op", str(chart), "--set", "image.pullPolicy=Sometimes", check=False)
    assert "at '/image/pullPolicy': value must be one of" in out
