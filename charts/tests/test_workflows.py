"""The GitHub Actions workflows cannot run here; actionlint checks them (syntax, expressions,
contexts, job dependencies, action inputs) and the tests below check they cover every image."""

import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.chart

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"


def _workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _filters(workflow: dict, job: str = "changes") -> dict:
    step = next(s for s in workflow["jobs"][job]["steps"] if s.get("id") == "filter")
    return yaml.safe_load(step["with"]["filters"])


def test_actionlint(actionlint: str) -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert files
    result = subprocess.run(
        [actionlint, "-no-color", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_has_a_path_filter(image_services: set[str]) -> None:
    ci = _filters(_workflow("ci.yml"))
    images = _filters(_workflow("images.yml"))
    for service in image_services:
        assert service in ci, f"ci.yml: add a path filter for {service}"
        assert service in images, f"images.yml: add a path filter for {service}"
    assert "datastore-operator" in images


def test_images_are_scanned_and_get_an_sbom() -> None:
    steps = _workflow("images.yml")["jobs"]["image"]["steps"]
    uses = {s.get("uses", "").split("@")[0] for s in steps}
    assert {"anchore/sbom-action", "aquasecurity/trivy-action", "docker/build-push-action"} <= uses


def test_release_packages_every_chart() -> None:
    script = "\n".join(
        s.get("run", "") for s in _workflow("release.yml")["jobs"]["charts"]["steps"]
    )
    charts = {p.parent.name for p in (REPO / "charts").glob("*/Chart.yaml")}
    application_charts = {
        c
        for c in charts
        if yaml.safe_load((REPO / "charts" / c / "Chart.yaml").read_text())["type"] == "application"
    }
    for chart in application_charts:
        assert chart in script, f"release.yml does not package {chart}"
