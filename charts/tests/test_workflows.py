"""The GitHub Actions workflows cannot run here; actionlint checks them (syntax, expressions,
contexts, job dependencies, action inputs) and the tests below check they cover every image."""

import subprocess
from pathlib import Path

import pytest
import yaml
from emporium_platform.registry import Registry

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


def _plan_step(workflow: dict) -> dict:
    steps = workflow["jobs"]["changes"]["steps"]
    plan = next(s for s in steps if s.get("id") == "plan")
    assert "emporium-registry plan" in plan["run"]
    assert plan["env"]["CHANGED"] == "${{ steps.filter.outputs.changed_files }}"
    changed = next(s for s in steps if s.get("id") == "filter")["with"]
    assert changed["list-files"] == "json"
    assert _filters(workflow)["changed"] == ["**"], "every changed path goes to the plan"
    return plan


def test_ci_runs_what_the_registry_plans(registry: Registry) -> None:
    """Each Python service's own tests run when its folder changes (the matrix is the plan's
    `services`), and the cross-service suite whenever any service or the kit does."""
    ci = _workflow("ci.yml")
    _plan_step(ci)
    jobs = ci["jobs"]
    assert jobs["changes"]["outputs"]["services"] == "${{ steps.plan.outputs.services }}"
    assert jobs["changes"]["outputs"]["cross"] == "${{ steps.plan.outputs.cross }}"
    matrix = jobs["integration"]["strategy"]["matrix"]
    assert matrix == {"service": "${{ fromJSON(needs.changes.outputs.services) }}"}
    cross = jobs["cross-service"]
    assert cross["if"] == "needs.changes.outputs.cross == 'true'"
    runs = [step.get("run", "") for step in cross["steps"]]
    (pytest_run,) = [run for run in runs if run.startswith("uv run pytest ")]
    # the Node services' suites (the gateway's, the storefront's) are part of it
    node = [f"services/{s.name}" for s in registry if s.kind.runtime == "node"]
    assert set(pytest_run.split()[3:]) == {"services/tests", *node}
    for service in registry:
        plan = registry.plan([f"services/{service.name}/src/x.py"])
        assert plan["cross"] is True
        assert plan["services"] == ([] if service.kind.runtime == "node" else [service.name])
    assert registry.plan(["services/kit/src/emporium_kit/app.py"])["cross"] is True


def test_images_are_built_as_the_registry_plans(registry: Registry) -> None:
    """Each image is built from the Dockerfile and with the build arguments the plan names."""
    images = _workflow("images.yml")
    _plan_step(images)
    job = images["jobs"]["image"]
    assert job["strategy"]["matrix"] == {"include": "${{ fromJSON(needs.changes.outputs.images) }}"}
    build = next(s for s in job["steps"] if s.get("id") == "build")["with"]
    assert build["file"] == "${{ matrix.dockerfile }}"
    assert "${{ matrix.build_args }}" in build["build-args"]
    for service in registry:
        (image,) = registry.plan([f"services/{service.name}/x"])["images"]
        assert image["image"] == service.name
        assert (REPO / image["dockerfile"]).is_file()
    operator = registry.plan(["operators/datastore/x"])["images"]
    assert [(i["image"], i["dockerfile"]) for i in operator] == [
        ("datastore-operator", "operators/datastore/Dockerfile")
    ]


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


def test_ci_lints_and_type_checks_as_the_test_command_does() -> None:
    """The lint job runs ruff and mypy as `./emporium test` does, with the root pyproject's
    settings (no arguments: mypy's `files` names every package's src/)."""
    runs = [step.get("run", "") for step in _workflow("ci.yml")["jobs"]["lint"]["steps"]]
    script = (REPO / "emporium").read_text()
    for command in ("ruff check .", "ruff format --check .", "mypy"):
        assert f"uv run {command}" in runs
        assert f"uv run --frozen {command}\n" in script
