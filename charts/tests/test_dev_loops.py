"""The Tiltfile, the Kubernetes dev loop: it references only files that exist, and what it
builds, deploys and forwards is what the service registry says (its command's output)."""

import ast
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from emporium_platform.registry import Registry

pytestmark = pytest.mark.chart

REPO = Path(__file__).resolve().parents[2]
TILTFILE = (REPO / "Tiltfile").read_text()


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
    assert "operators/datastore/Dockerfile" in literals
    assert not (REPO / "skaffold.yaml").exists(), "one dev loop (docs/deploy.md)"


def test_tiltfile_builds_deploys_and_forwards_what_the_registry_says(registry: Registry) -> None:
    """The Tiltfile's registry command, run as Tilt runs it: every service with its
    Dockerfile and build arguments, the port its image listens on (the chart's) and its local
    port (the platform's), and the folders of its SDL for the supergraph's recomposition."""
    command = ast.literal_eval(re.search(r"^REGISTRY_COMMAND = (\[.*\])$", TILTFILE, re.M)[1])
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    services = {s["name"]: s for s in json.loads(result.stdout)["services"]}
    assert list(services) == [service.name for service in registry]
    chart = yaml.safe_load((REPO / "charts" / "emporium" / "registry.yaml").read_text())
    for service in registry:
        loop = services[service.name]
        assert (REPO / loop["dockerfile"]).is_file()
        assert loop["local_port"] == service.port
        assert loop["container_port"] == chart["services"][service.name]["port"]
        if service.kind.subgraph:
            assert loop["dockerfile"] == "services/python.Dockerfile"
            assert loop["build_args"] == {"SERVICE": service.name}
            assert (REPO / loop["schema"]).is_dir()
        else:
            assert loop["dockerfile"] == f"services/{service.name}/Dockerfile"
    for used in ('service["dockerfile"]', 'build_args=service["build_args"]', 'service["schema"]'):
        assert used in TILTFILE
    assert '(service["local_port"], service["container_port"])' in TILTFILE
