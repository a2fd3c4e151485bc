"""No Docker engine runs here, so each image is reproduced without one: for each Python service
of the registry, the Python Dockerfile's own `uv sync` commands, with SERVICE set to it, build
the venv from the lock (first from the lock and root pyproject alone, as the bind-mounted layer
does), the gateway's own `npm ci` installs its
production dependencies from its lock; then the final stage's ENV, ENTRYPOINT and CMD start the
service on loopback. It must answer its probes, and exit cleanly on SIGTERM within its
graceful-shutdown time (the kit's grace and drain periods), which is what a rollout and a
node drain rely on. The service gets the
test platform's MongoDB (a throwaway database: the catalog and identity prepare theirs before
serving) and unreachable NATS, Redis and OpenSearch, which a service starts without."""

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from emporium_kit.settings import ServiceSettings
from emporium_platform.registry import load as load_registry
from pymongo import MongoClient

pytestmark = pytest.mark.chart

REPO = Path(__file__).resolve().parents[2]
# One Dockerfile builds every Python service of the registry, SERVICE naming it.
PYTHON_DOCKERFILE = REPO / "services" / "python.Dockerfile"
PYTHON_SERVICES = [
    s.name for s in load_registry(REPO) if s.dockerfile == "services/python.Dockerfile"
]
# What .dockerignore keeps out of the build context, as far as the workspace sources go.
EXCLUDED = shutil.ignore_patterns(".venv", "__pycache__", "tests", "node_modules", ".pytest_cache")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    steps = instructions(dockerfile)
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def uv_syncs(dockerfile: Path) -> list[str]:
    """The RUN commands that build the venv, without their mount flags, as the shell runs them."""
    return [
        re.sub(r"^(--mount=\S+\s+)+", "", rest)
        for keyword, rest in instructions(dockerfile)
        if keyword == "RUN" and "uv sync" in rest
    ]


def free_ports(count: int) -> list[int]:
    """Distinct free ports: the sockets stay bound until all are picked, so the OS cannot
    hand out one port twice."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def get_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_the_image_starts_serves_and_stops_gracefully(
    service: str, tmp_path: Path, platform: Any
) -> None:
    dockerfile = PYTHON_DOCKERFILE
    syncs = uv_syncs(dockerfile)
    assert len(syncs) == 2, "a dependencies layer from the lock, then the workspace packages"
    uv = shutil.which("uv")
    assert uv
    env = {
        **os.environ,
        "PATH": f"{Path(uv).parent}:{os.environ['PATH']}",
        "SERVICE": service,  # the build argument
        "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv"),
        "UV_PYTHON": sys.executable,
        "UV_LINK_MODE": "copy",
        "UV_PYTHON_DOWNLOADS": "never",
    }
    env.pop("VIRTUAL_ENV", None)
    context = tmp_path / "src"
    context.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy2(REPO / name, context / name)
    first = subprocess.run(
        ["sh", "-ec", syncs[0]], cwd=context, env=env, capture_output=True, text=True, check=False
    )
    assert first.returncode == 0, first.stderr
    for member in [*REPO.glob("services/*"), *REPO.glob("infra/*"), *REPO.glob("operators/*")]:
        if member.is_dir():
            shutil.copytree(member, context / member.relative_to(REPO), ignore=EXCLUDED)
    second = subprocess.run(
        ["sh", "-ec", syncs[1]], cwd=context, env=env, capture_output=True, text=True, check=False
    )
    assert second.returncode == 0, second.stderr

    stage = final_stage(dockerfile)
    runtime_env: dict[str, str] = {}
    for keyword, rest in stage:
        if keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                runtime_env[key] = value
    entrypoint = json.loads(next(rest for keyword, rest in stage if keyword == "ENTRYPOINT"))
    cmd = json.loads(next(rest for keyword, rest in stage if keyword == "CMD"))
    assert runtime_env["EMPORIUM_SERVICE_NAME"] == "${SERVICE}"
    # SIGTERM: readiness 503 for the grace period (the kit's default unless the image sets
    # it), then draining for at most the drain time
    grace = runtime_env.get(
        "EMPORIUM_SHUTDOWN_GRACE_S", ServiceSettings.model_fields["shutdown_grace_s"].default
    )
    graceful = float(grace) + float(runtime_env["EMPORIUM_SHUTDOWN_DRAIN_S"])
    port, nats_port, redis_port, opensearch_port = free_ports(4)
    database = f"image_{service}_{uuid.uuid4().hex[:10]}"
    venv_bin = tmp_path / "venv" / "bin"
    process_env = {
        **{k: v.replace("/opt/venv/bin", str(venv_bin)) for k, v in runtime_env.items()},
        "EMPORIUM_SERVICE_NAME": service,
        "PATH": f"{venv_bin}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "EMPORIUM_HOST": "127.0.0.1",  # loopback here; the image listens on 0.0.0.0 in its pod
        "EMPORIUM_PORT": str(port),
        "EMPORIUM_MONGO_URL": platform.mongo_url,
        "EMPORIUM_MONGO_DATABASE": database,
        "EMPORIUM_NATS_URL": f"nats://127.0.0.1:{nats_port}",
        "EMPORIUM_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "EMPORIUM_OPENSEARCH_URL": f"http://127.0.0.1:{opensearch_port}",
    }
    argv = [*entrypoint, *cmd]
    assert (venv_bin / argv[0]).resolve() == (venv_bin / f"emporium-{service}").resolve()
    process = subprocess.Popen(
        argv,
        cwd=tmp_path,
        env=process_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while get_status(f"http://127.0.0.1:{port}/livez") != 200:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the service did not answer /livez within 60 s"
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=graceful + 5)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        with MongoClient(platform.mongo_url) as client:
            client.drop_database(database)
    # uvicorn finishes its shutdown, then re-raises the SIGTERM it captured (exit by signal).
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert "service stopped" in output, "the lifespan ran to its end"


GATEWAY_DOCKERFILE = REPO / "services" / "gateway" / "Dockerfile"


def pid1_prefix() -> list[str]:
    """Run the entrypoint as PID 1 of a new PID namespace, as in a container, where the kernel
    ignores every signal the process has no handler for (needs root here; else run it plainly)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    prefix = [unshare, "--pid", "--fork", "--mount-proc"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, check=False)
    return prefix if probe.returncode == 0 else []


def child_pid(pid: int, deadline: float) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    while not children.read_text().split():
        assert time.monotonic() < deadline, "the entrypoint did not start"
        time.sleep(0.05)
    return int(children.read_text().split()[0])


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if not path.is_symlink()
    }


def test_the_gateway_image_starts_serves_and_stops_gracefully(tmp_path: Path) -> None:
    """The gateway image reproduced from its Dockerfile: the deps stage's `npm ci` from the lock
    alone (production dependencies only, no install scripts), the final stage's COPYs, ENV,
    WORKDIR, ENTRYPOINT and CMD; the supergraph comes from outside the image, as the chart
    mounts it. It must serve, write nothing into its own files (read-only root filesystem) and
    exit cleanly on SIGTERM as PID 1."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("the gateway image check needs Node 20 and npm")
    steps = instructions(GATEWAY_DOCKERFILE)
    run = next(rest for keyword, rest in steps if keyword == "RUN" and "npm ci" in rest)
    app = tmp_path / "app"
    app.mkdir()
    for name in ("package.json", "package-lock.json"):  # the deps stage's bind mounts
        shutil.copy2(REPO / "services" / "gateway" / name, app / name)
    install = subprocess.run(
        [npm, *shlex.split(run[run.index("npm ci") :])[1:]],
        cwd=app,
        env={**os.environ, "NODE_ENV": "production", "npm_config_update_notifier": "false"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    (app / "package-lock.json").unlink()  # not copied into the final stage

    stage = final_stage(GATEWAY_DOCKERFILE)
    workdir = next(rest for keyword, rest in stage if keyword == "WORKDIR")
    for keyword, rest in stage:
        if keyword != "COPY" or "--from=" in rest:
            continue
        *sources, dest = [arg for arg in shlex.split(rest) if not arg.startswith("--")]
        target = app / dest
        for source in sources:
            if (REPO / source).is_dir():
                shutil.copytree(REPO / source, target, dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / source, target / Path(source).name)
    assert (app / "gateway.config.ts").is_file()
    assert not (app / "supergraph.graphql").exists(), "the chart ships the supergraph"

    mount = tmp_path / "supergraph"  # the chart's ConfigMap volume
    mount.mkdir()
    shutil.copy2(REPO / "services" / "gateway" / "supergraph.graphql", mount)
    runtime_env: dict[str, str] = {}
    for keyword, rest in stage:
        if keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                runtime_env[key] = value
    assert runtime_env["EMPORIUM_SUPERGRAPH_PATH"].startswith("/etc/emporium/supergraph/")
    assert runtime_env["EMPORIUM_METRICS_PORT"] != runtime_env["PORT"]
    port, metrics_port = free_ports(2)
    scratch = tmp_path / "tmp"  # the chart's /tmp emptyDir
    scratch.mkdir()
    process_env = {
        **runtime_env,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/nonexistent",
        "TMPDIR": str(scratch),
        # loopback here; the image listens on 0.0.0.0 in its pod
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "EMPORIUM_METRICS_HOST": "127.0.0.1",
        "EMPORIUM_METRICS_PORT": str(metrics_port),
        "EMPORIUM_SUPERGRAPH_PATH": str(mount / "supergraph.graphql"),
    }
    entrypoint = json.loads(next(rest for keyword, rest in stage if keyword == "ENTRYPOINT"))
    cmd = json.loads(next(rest for keyword, rest in stage if keyword == "CMD"))
    argv = [arg.replace(workdir, str(app)) for arg in [*entrypoint, *cmd]]
    assert argv[0] == "node", "node itself is PID 1 (no npm or shell in between)"
    before = snapshot(app)
    prefix = pid1_prefix()
    process = subprocess.Popen(
        [*prefix, node, *argv[1:]],
        cwd=app,
        env=process_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        gateway_pid = child_pid(process.pid, deadline) if prefix else process.pid
        if prefix:
            status = Path(f"/proc/{gateway_pid}/status").read_text()
            assert re.search(r"^NSpid:\s+\d+\s+1$", status, re.MULTILINE), "node is PID 1"
        while get_status(f"http://127.0.0.1:{port}/readyz") != 200:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the gateway was not ready within 60 s"
            time.sleep(0.2)
        assert get_status(f"http://127.0.0.1:{port}/livez") == 200
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql",
            data=b'{"query": "{ __typename }"}',
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response)["data"] == {"__typename": "Query"}
        assert get_status(f"http://127.0.0.1:{metrics_port}/metrics") == 200
        assert get_status(f"http://127.0.0.1:{port}/metrics") == 404
        os.kill(gateway_pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "Stopped the server successfully" in output
    assert snapshot(app) == before, "the gateway wrote into its image's files"
