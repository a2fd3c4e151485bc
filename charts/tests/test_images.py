"""Every image: hadolint clean, and built the way docs/deploy.md promises (multi-stage from the
uv lock, pinned bases, non-root, read-only-rootfs friendly, exec-form entrypoint, OCI labels)."""

import re
import subprocess
from pathlib import Path

import pytest
from emporium_platform.registry import Registry

pytestmark = pytest.mark.chart

REPO = Path(__file__).resolve().parents[2]
# one Dockerfile for every Python service, the gateway's own, the operator's
PYTHON_DOCKERFILE = REPO / "services" / "python.Dockerfile"
DOCKERFILES = sorted(
    [
        *REPO.glob("services/*.Dockerfile"),
        *REPO.glob("services/*/Dockerfile"),
        *REPO.glob("operators/*/Dockerfile"),
    ]
)
OCI_LABELS = ("title", "description", "source", "licenses", "version", "revision")


def _id(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_there_are_images() -> None:
    assert PYTHON_DOCKERFILE in DOCKERFILES
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
    if dockerfile == PYTHON_DOCKERFILE:
        package = '"emporium-${SERVICE}"'
    elif (dockerfile.parent / "pyproject.toml").exists():
        found = re.search(
            r'^name = "([^"]+)"', (dockerfile.parent / "pyproject.toml").read_text(), re.MULTILINE
        )
        assert found
        package = found[1]
    else:
        return
    assert f"uv sync --frozen --no-dev --no-install-workspace --package {package}" in text
    assert f"uv sync --frozen --no-dev --no-editable --package {package}" in text


def test_every_service_has_its_image(registry: Registry) -> None:
    """A Python service is built by the one parameterised Dockerfile (SERVICE = its name),
    and has none of its own; a service of another kind has its own, in its folder."""
    for service in registry:
        dockerfile = REPO / service.dockerfile
        assert dockerfile.is_file(), service.name
        if service.kind.runtime == "node":
            assert dockerfile == service.directory / "Dockerfile"
            text = dockerfile.read_text()
            assert f'org.opencontainers.image.title="emporium-{service.name}"' in text
        else:
            assert dockerfile == PYTHON_DOCKERFILE
            assert service.build_args == {"SERVICE": service.name}
            assert not (service.directory / "Dockerfile").exists(), "one Python Dockerfile"
        final = dockerfile.read_text()[dockerfile.read_text().rindex("\nFROM ") :]
        assert f"EXPOSE {service.kind.container_port}" in final


def test_the_python_image_is_named_after_its_service() -> None:
    """The name goes in as SERVICE, in every stage that uses it, and comes out as the labels,
    EMPORIUM_SERVICE_NAME and the service's own console script, `emporium-<name> serve`, under
    the one name the entrypoint knows."""
    text = PYTHON_DOCKERFILE.read_text()
    stages = text.split("\nFROM ")[1:]
    for stage in stages:
        if "${SERVICE}" in stage:
            assert re.search(r"^ARG SERVICE$", stage, re.MULTILINE), stage.splitlines()[0]
    final = stages[-1]
    assert 'org.opencontainers.image.title="emporium-${SERVICE}"' in final
    assert "EMPORIUM_SERVICE_NAME=${SERVICE}" in final
    assert 'ln -s "emporium-${SERVICE}" "${UV_PROJECT_ENVIRONMENT}/bin/emporium-service"' in text
    assert re.search(r'^ENTRYPOINT \["emporium-service"\]$', final, re.MULTILINE)
    assert re.search(r'^CMD \["serve"\]$', final, re.MULTILINE)
    # The chart's termination grace is computed from this default (values shutdown.*).
    assert "EMPORIUM_SHUTDOWN_DRAIN_S=20" in final


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert {"**/.venv", "**/tests", ".platform", "**/.git"} <= set(ignored)
