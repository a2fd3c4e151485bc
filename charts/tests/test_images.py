"""Every image: hadolint clean, and built the way docs/deploy.md promises (multi-stage from the
uv lock, pinned bases, non-root, read-only-rootfs friendly, exec-form entrypoint, OCI labels)."""

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.chart

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted([*REPO.glob("services/*/Dockerfile"), *REPO.glob("operators/*/Dockerfile")])
OCI_LABELS = ("title", "description", "source", "licenses", "version", "revision")


def _id(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_there_are_images() -> None:
    assert any(p.parent.parent.name == "services" for p in DOCKERFILES)
    assert REPO / "operators" / "datastore" / "Dockerfile" in DOCKERFILES


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=_id)
def test_hadolint(hadolint: str, dockerfile: Path) -> None:
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=_id)
def test_image_contract(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.MULTILINE)
    assert len(stages) >= 2, "multi-stage: build tools stay out of the final image"
    for image, _ in stages:
        assert ":" in image, f"pin {image}"
        assert not image.endswith(":latest"), f"pin {image}"
        assert "$" not in image, "FROM names the pinned image itself (scanners read it)"
    final = text[text.rindex("\nFROM ") :]
    assert re.search(r"^USER\s+10001(:10001)?$", final, re.MULTILINE), "non-root, uid 10001"
    assert "COPY --from=uv" not in final, "no uv in the final image"
    assert re.search(r"^ENTRYPOINT \[", final, re.MULTILINE), "exec form: PID 1 gets SIGTERM"
    for label in OCI_LABELS:
        assert f"org.opencontainers.image.{label}=" in final, label
    if (dockerfile.parent / "pyproject.toml").exists():
        package = re.search(
            r'^name = "([^"]+)"', (dockerfile.parent / "pyproject.toml").read_text(), re.MULTILINE
        )
        assert package
        assert f"uv sync --frozen --no-dev --no-install-workspace --package {package[1]}" in text
        assert f"uv sync --frozen --no-dev --no-editable --package {package[1]}" in text


@pytest.mark.parametrize(
    "dockerfile", [p for p in DOCKERFILES if p.parent.parent.name == "services"], ids=_id
)
def test_service_images_carry_the_service_name(dockerfile: Path) -> None:
    name = dockerfile.parent.name
    text = dockerfile.read_text()
    assert f'org.opencontainers.image.title="emporium-{name}"' in text
    if (dockerfile.parent / "pyproject.toml").exists():
        assert f"EMPORIUM_SERVICE_NAME={name}" in text
        # the service's own graceful `serve` (the kit's), as the platform and tests run it
        assert f'ENTRYPOINT ["emporium-{name}"]' in text
        assert 'CMD ["serve"]' in text
        # The chart's termination grace is computed from this default (values shutdown.*).
        assert "EMPORIUM_SHUTDOWN_DRAIN_S=20" in text


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert {"**/.venv", "**/tests", ".platform", "**/.git"} <= set(ignored)
