"""The service template's acceptance test: a service generated from it, in a throw-away copy of
the checkout, goes through every step of docs/adding-a-service.md and then

- is a registered service whose derived files are regenerated (`emporium-registry generate`),
  with a lock that holds it (`uv lock`);
- passes ruff, the type check (mypy with the repository's configuration) and its own tests
  against the kit (unit and integration, on the test platform);
- starts on the test platform the way the local platform runs it (its registry command, its
  console script in an environment synced from the new lock) and its readiness answers;
- composes into the supergraph with the other subgraphs (the gateway's compose.mjs);
- renders in the umbrella chart (helm template): its Deployment, Datastore, NetworkPolicy, and
  the gateway's route to it.

Nothing is written into the checkout itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from emporium_platform import installers
from emporium_platform import registry as reg
from emporium_platform.config import HOST, default_cache_dir
from emporium_platform.processes import (
    ServiceProcess,
    ensure_gateway_installed,
    free_port,
    node_binary,
)
from pymongo import MongoClient

pytestmark = pytest.mark.contract

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "templates" / "service"
# what the copy leaves out: environments, installs, platform state, caches (as .gitignore)
NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    ".platform",
    ".platform-test",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".hypothesis",
    "charts",  # only charts/emporium/charts, the vendored library chart: rebuilt by helm
)


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def copy_checkout(target: Path) -> Path:
    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = set(NOT_COPIED(directory, names))
        if Path(directory) != REPO / "charts" / "emporium":
            skipped.discard("charts")
        return skipped

    shutil.copytree(REPO, target, ignore=ignore, symlinks=True)
    return target


def unused_port(registry: reg.Registry) -> int:
    taken = {port for service in registry for port in service.ports}
    return next(port for port in range(8010, 8100) if port not in taken)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[reg.Registry, str, Path]:
    """A service generated from the template into a copy of the checkout, the derived files
    regenerated and the lock updated, the copy's environment synced from that lock."""
    work = tmp_path_factory.mktemp("template")
    root = copy_checkout(work / "checkout")
    name = f"tpl{uuid.uuid4().hex[:6]}"
    port = unused_port(reg.load(root))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    run(
        [
            str(bin_dir / "copier"),
            "copy",
            "--trust",
            "--defaults",
            "--data",
            f"name={name}",
            "--data",
            f"port={port}",
            str(TEMPLATE),
            str(root / "services" / name),
        ],
        env=env,
    )
    assert reg.main(["--root", str(root), "generate"]) == 0
    uv = shutil.which("uv")
    assert uv
    uv_env = {
        **env,
        "UV_PROJECT_ENVIRONMENT": str(work / "venv"),
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
    }
    uv_env.pop("VIRTUAL_ENV", None)
    # the registry's metadata is only cached by a lock, not by a frozen sync: a fresh machine
    # reads it from the registry once
    run([uv, "lock"], cwd=root, env=uv_env)
    run([uv, "sync", "--frozen", "--offline"], cwd=root, env=uv_env)
    return reg.load(root), name, work / "venv"


def test_the_new_service_is_registered_and_everything_derived_is_current(
    generated: tuple[reg.Registry, str, Path],
) -> None:
    registry, name, _ = generated
    service = registry[name]
    assert service.kind.name == "subgraph"
    assert service.needs == ("ferretdb", "nats")
    assert registry.calls(name) == ("identity",)
    assert name in registry.calls("gateway")
    assert registry.stale() == []
    lock = (registry.root / "uv.lock").read_text()
    assert f'name = "emporium-{name}"' in lock
    changed = [
        path
        for path in (
            "pyproject.toml",
            "README.md",
            "services/gateway/subgraphs.json",
            "charts/emporium/registry.yaml",
        )
        if (registry.root / path).read_text() != (REPO / path).read_text()
    ]
    assert len(changed) == 4, "the generated files name the new service"


def test_the_new_service_passes_ruff_the_type_check_and_its_own_tests(
    generated: tuple[reg.Registry, str, Path],
) -> None:
    registry, name, venv = generated
    folder = registry.root / "services" / name
    ruff = str(Path(sys.executable).parent / "ruff")
    run([ruff, "check", str(folder)], cwd=registry.root)
    run([ruff, "format", "--check", str(folder)], cwd=registry.root)
    # the copy's [tool.mypy] (the workspace check's settings), the kit read through py.typed
    checked = run([str(venv / "bin" / "mypy"), str(folder / "src")], cwd=registry.root)
    assert checked.stdout.startswith("Success"), checked.stdout
    # its tests on the test platform this session runs (EMPORIUM_PLATFORM_ROOT: this checkout)
    env = {**os.environ, "EMPORIUM_PLATFORM_ROOT": str(REPO)}
    env.pop("VIRTUAL_ENV", None)
    tests = run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=registry.root,
        env=env,
    )
    assert " passed" in tests.stdout
    assert "failed" not in tests.stdout


def test_the_new_service_starts_on_the_test_platform(
    generated: tuple[reg.Registry, str, Path], platform: Any
) -> None:
    """Its registry command (`emporium-<name> serve`), its console script from the synced
    environment, the test platform's settings and its registry environment: `/readyz` answers
    200 (Mongo and NATS reached)."""
    registry, name, venv = generated
    spec = replace(registry[name], port=free_port())
    command = [registry.expand(word, spec, host=HOST) for word in spec.command]
    command[0] = str(venv / "bin" / command[0])
    database = f"template_{name}"
    env = {
        **platform.env(),
        **registry.environment(name),
        "EMPORIUM_SERVICE_NAME": name,
        "EMPORIUM_MONGO_DATABASE": database,
    }
    env.pop("EMPORIUM_JWKS_URL")  # no token is verified here: no call to a local identity
    process = ServiceProcess(name, command, port=spec.port, env=env, cwd=registry.root)
    try:
        process.start(timeout=90)
        assert process.running()
    finally:
        process.stop()
        with MongoClient(platform.mongo_url) as client:
            client.drop_database(database)


def test_the_new_service_composes_into_the_supergraph(
    generated: tuple[reg.Registry, str, Path], tmp_path: Path
) -> None:
    registry, name, _ = generated
    out = tmp_path / "supergraph.graphql"
    run(
        [
            str(node_binary()),
            "compose.mjs",
            "--config",
            str(registry.gateway.directory / "subgraphs.json"),
            "--out",
            str(out),
        ],
        cwd=ensure_gateway_installed(),
    )
    supergraph = out.read_text()
    for subgraph in registry.subgraphs:
        url = f"{registry.url(subgraph.name)}/graphql"
        assert f'@join__graph(name: "{subgraph.name}", url: "{url}")' in supergraph
    assert f"{name}Item(id: ID!): {name.capitalize()}Item" in supergraph


def test_the_new_service_renders_in_the_chart(
    generated: tuple[reg.Registry, str, Path], tmp_path: Path
) -> None:
    registry, name, _ = generated
    helm = str(installers.ensure_kube_tools(default_cache_dir(), report=lambda _: None) / "helm")
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(tmp_path / "cache"),
        "HELM_CONFIG_HOME": str(tmp_path / "config"),
        "HELM_DATA_HOME": str(tmp_path / "data"),
    }
    chart = registry.root / "charts" / "emporium"
    run([helm, "dependency", "build", str(chart)], env=env)
    rendered = run(
        [
            helm,
            "template",
            "emporium",
            str(chart),
            "--namespace",
            "emporium",
            "--set-file",
            f"services.gateway.supergraph.content={REPO / 'services/gateway/supergraph.graphql'}",
            "--set",
            "global.publicUrl=https://shop.example.test",
        ],
        env=env,
    ).stdout
    manifests = {(m["kind"], m["metadata"]["name"]): m for m in yaml.safe_load_all(rendered) if m}
    deployment = manifests[("Deployment", name)]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"ghcr.io/emporium/{name}:0.1.0"
    assert manifests[("Datastore", f"{name}-mongodb")]["spec"]["engine"] == "mongodb"
    config = manifests[("ConfigMap", f"{name}-config")]["data"]
    assert config["EMPORIUM_MONGO_DATABASE"] == name
    assert "EMPORIUM_NATS_URL" in config
    gateway = manifests[("ConfigMap", "gateway-config")]["data"]
    assert gateway[f"EMPORIUM_SUBGRAPH_{name.upper()}_URL"] == f"http://{name}:80/graphql"
    policy = manifests[("NetworkPolicy", name)]["spec"]
    callees = {
        rule["to"][0].get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
        for rule in policy["egress"]
    }
    assert "identity" in callees
