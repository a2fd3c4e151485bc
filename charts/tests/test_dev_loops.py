"""skaffold.yaml and the Tiltfile reference only Dockerfiles, charts and values files that exist,
and cover every service (an image each) plus the operator."""

import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.chart

REPO = Path(__file__).resolve().parents[2]
SKAFFOLD = yaml.safe_load((REPO / "skaffold.yaml").read_text())
TILTFILE = (REPO / "Tiltfile").read_text()
OPERATOR_IMAGE = "datastore-operator"


def _releases() -> list[dict]:
    return SKAFFOLD["deploy"]["helm"]["releases"]


def test_skaffold_builds_every_image_from_an_existing_dockerfile(image_services: set[str]) -> None:
    artifacts = {a["image"]: a for a in SKAFFOLD["build"]["artifacts"]}
    assert set(artifacts) == image_services | {OPERATOR_IMAGE}
    for image, artifact in artifacts.items():
        dockerfile = REPO / artifact["context"] / artifact["docker"]["dockerfile"]
        assert dockerfile.is_file(), dockerfile
        if image != OPERATOR_IMAGE:
            assert dockerfile == REPO / "services" / image / "Dockerfile", "one name per service"


def test_skaffold_deploys_existing_charts_in_order(image_services: set[str], values: dict) -> None:
    releases = _releases()
    assert [r["name"] for r in releases] == [
        "datastore-operator-crds",
        "datastore-operator",
        "emporium",
    ]
    for release in releases:
        assert (REPO / release["chartPath"] / "Chart.yaml").is_file()
        for values_file in release.get("valuesFiles", []):
            assert (REPO / values_file).is_file(), values_file
    for profile in SKAFFOLD["profiles"]:
        for patch in profile.get("patches", []):
            for values_file in patch["value"] if patch["path"].endswith("valuesFiles") else []:
                assert (REPO / values_file).is_file(), values_file
    set_files = releases[2]["setFiles"]
    for path in set_files.values():
        assert (REPO / path).is_file(), path
    assert set_files["services.gateway.supergraph.content"] == "services/gateway/supergraph.graphql"
    templates = releases[2]["setValueTemplates"]
    for service in image_services:
        assert service in values["services"]
        key = re.sub(r"[^A-Za-z0-9]", "_", service)
        assert templates[f"services.{service}.image.repository"] == f"{{{{.IMAGE_REPO_{key}}}}}"
        assert templates[f"services.{service}.image.tag"] == f"{{{{.IMAGE_TAG_{key}}}}}"
    assert (
        releases[1]["setValueTemplates"]["image.repository"] == "{{.IMAGE_REPO_datastore_operator}}"
    )


def test_skaffold_port_forwards_every_service(image_services: set[str]) -> None:
    forwarded = {p["resourceName"] for p in SKAFFOLD["portForward"]}
    assert forwarded == image_services


def test_skaffold_profiles_name_existing_release_indexes() -> None:
    names = {p["name"] for p in SKAFFOLD["profiles"]}
    assert {"dev", "prod"} <= names
    prod = next(p for p in SKAFFOLD["profiles"] if p["name"] == "prod")
    paths = {patch["path"] for patch in prod["patches"]}
    assert "/deploy/helm/releases/2/setValueTemplates/global.publicUrl" in paths, (
        "production values need the public https URL"
    )
    for profile in SKAFFOLD["profiles"]:
        for patch in profile.get("patches", []):
            index = int(patch["path"].split("/")[4])
            assert _releases()[index]["name"] == "emporium"


def _string_literals() -> set[str]:
    return set(re.findall(r'"([^"\n]*)"', TILTFILE))


def test_tiltfile_references_exist() -> None:
    literals = _string_literals()
    for path in [
        s
        for s in literals
        if (s.startswith(("charts/", "operators/", "services/")) and "%" not in s)
        or s.endswith(".yaml")
    ]:
        assert (REPO / path).exists(), path
    assert "services/%s/Dockerfile" in literals, "images come from services/<name>/Dockerfile"
    assert "operators/datastore/Dockerfile" in literals
    assert (REPO / "operators/datastore/Dockerfile").is_file()


def test_tiltfile_covers_every_service(image_services: set[str]) -> None:
    ports = re.search(r"LOCAL_PORTS = \{(.*?)\}", TILTFILE, re.DOTALL)
    assert ports
    forwarded = set(re.findall(r'"([a-z-]+)":', ports.group(1)))
    missing = image_services - forwarded
    assert not missing, f"add {missing} to LOCAL_PORTS in the Tiltfile"


def test_local_ports_agree_between_tilt_and_skaffold() -> None:
    tilt = dict(
        re.findall(
            r'"([a-z-]+)": (\d+)',
            re.search(r"LOCAL_PORTS = \{(.*?)\}", TILTFILE, re.DOTALL).group(1),
        )
    )
    for forward in SKAFFOLD["portForward"]:
        assert int(tilt[forward["resourceName"]]) == forward["localPort"]
