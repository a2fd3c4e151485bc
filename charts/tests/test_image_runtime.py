"""No Docker engine runs here, so each Python service image is reproduced without one: its
Dockerfile's own `uv sync` commands build the venv from the lock (first from the lock and root
pyproject alone, as the bind-mounted layer does), then the final stage's ENV, ENTRYPOINT and CMD
start the service on loopback. It must answer /livez, and exit cleanly on SIGTERM within its
graceful-shutdown time, which is what a rollout and a node drain rely on."""

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
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.chart

REPO = Path(__file__).resolve().parents[2]
PYTHON_DOCKERFILES = sorted(
    p for p in REPO.glob("services/*/Dockerfile") if (p.parent / "pyproject.toml").exists()
)
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


def uv_syncs(dockerfile: Path) -> list[list[str]]:
    commands = []
    for keyword, rest in instructions(dockerfile):
        if keyword == "RUN" and "uv sync" in rest:
            commands.append(shlex.split(rest[rest.index("uv sync") :]))
    return commands


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return None


@pytest.mark.parametrize("dockerfile", PYTHON_DOCKERFILES, ids=lambda p: p.parent.name)
def test_the_image_starts_serves_and_stops_gracefully(dockerfile: Path, tmp_path: Path) -> None:
    syncs = uv_syncs(dockerfile)
    assert len(syncs) == 2, "a dependencies layer from the lock, then the workspace packages"
    uv = shutil.which("uv")
    assert uv
    env = {
        **os.environ,
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
        [uv, *syncs[0][1:]], cwd=context, env=env, capture_output=True, text=True, check=False
    )
    assert first.returncode == 0, first.stderr
    for member in [*REPO.glob("services/*"), *REPO.glob("infra/*"), *REPO.glob("operators/*")]:
        if member.is_dir():
            shutil.copytree(member, context / member.relative_to(REPO), ignore=EXCLUDED)
    second = subprocess.run(
        [uv, *syncs[1][1:]], cwd=context, env=env, capture_output=True, text=True, check=False
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
    graceful = int(runtime_env["UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN"])
    port = free_port()
    venv_bin = tmp_path / "venv" / "bin"
    process_env = {
        **{k: v.replace("/opt/venv/bin", str(venv_bin)) for k, v in runtime_env.items()},
        "PATH": f"{venv_bin}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "UVICORN_HOST": "127.0.0.1",  # loopback here; the image listens on 0.0.0.0 in its pod
        "UVICORN_PORT": str(port),
    }
    process = subprocess.Popen(
        [*entrypoint, *cmd],
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
    # uvicorn finishes its shutdown, then re-raises the SIGTERM it captured (exit by signal).
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
