"""checkov over the Dockerfiles, every chart rendering and the k8s/ manifests. A check may only be
skipped in place (a `checkov:skip` comment or a `checkov.io/skip` annotation) with its reason."""

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.chart

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO / "charts"
UMBRELLA = CHARTS / "emporium"
SKIP = re.compile(r"checkov(?:\.io/skip\d+:|:skip=)\s*(CKV2?_[A-Z0-9_]+)(?:[=:](.*))?")


def _checkov(checkov: list[str], *args: str) -> list[dict]:
    # --skip-download: no calls home for guidelines; everything checkov needs ships with it.
    result = subprocess.run(
        [*checkov, *args, "--output", "json", "--skip-download", "--quiet", "--compact"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    reports = json.loads(result.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    return [
        check for report in reports for check in report.get("results", {}).get("failed_checks", [])
    ]


@pytest.fixture(scope="module")
def rendered(
    helm: Callable[..., str],
    kubectl: Callable[..., str],
    umbrella: Path,
    scratch: Path,
    install_args: tuple[str, ...],
) -> Path:
    out = scratch / "checkov"
    out.mkdir(exist_ok=True)
    for label, values in [
        ("default", None),
        ("production", "values-production.yaml"),
        ("minimal", "values-minimal.yaml"),
    ]:
        args = ["template", "emporium", str(umbrella), "--namespace", "emporium", *install_args]
        if values:
            args += ["--values", str(umbrella / values)]
        (out / f"emporium-{label}.yaml").write_text(helm(*args))
    (out / "operator.yaml").write_text(
        helm(
            "template",
            "datastore-operator",
            str(CHARTS / "datastore-operator"),
            "--namespace",
            "emporium-system",
        )
    )
    (out / "operator-crds.yaml").write_text(
        helm("template", "crds", str(CHARTS / "datastore-operator-crds"))
    )
    for overlay in ("dev", "production"):
        (out / f"k8s-{overlay}.yaml").write_text(
            kubectl("kustomize", str(REPO / "k8s" / "overlays" / overlay))
        )
    return out


def test_checkov_kubernetes(checkov: list[str], rendered: Path) -> None:
    failed = _checkov(checkov, "--directory", str(rendered), "--framework", "kubernetes")
    assert not failed, [(c["check_id"], c["resource"], c["file_path"]) for c in failed]


def test_checkov_dockerfiles(checkov: list[str]) -> None:
    files = sorted(
        [
            *REPO.glob("services/*.Dockerfile"),
            *REPO.glob("services/*/Dockerfile"),
            *REPO.glob("operators/*/Dockerfile"),
        ]
    )
    args = [arg for f in files for arg in ("--file", str(f))]
    failed = _checkov(checkov, *args, "--framework", "dockerfile")
    assert not failed, [(c["check_id"], c["file_path"]) for c in failed]


def test_every_skipped_check_says_why() -> None:
    sources = [
        *CHARTS.rglob("*.tpl"),
        *CHARTS.rglob("templates/*.yaml"),
        *REPO.glob("services/*.Dockerfile"),
        *REPO.glob("services/*/Dockerfile"),
        *REPO.glob("operators/*/Dockerfile"),
        *(REPO / "k8s").rglob("*.yaml"),
    ]
    skips = [(path, m) for path in sources for m in SKIP.finditer(path.read_text())]
    assert skips, "the chart documents its deliberate deviations"
    for path, match in skips:
        reason = (match.group(2) or "").strip()
        assert len(reason) >= 20, f"{path}: {match.group(1)} is skipped without a reason"
