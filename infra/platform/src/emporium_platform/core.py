"""`Platform`: the Python API behind the CLI and the pytest plugin."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from emporium_platform import registry as service_registry
from emporium_platform.components import INFRA, Component, NotReadyError, Program
from emporium_platform.config import (
    STATE_DIR_NAME,
    TEST_STATE_DIR_NAME,
    PlatformConfig,
    Ports,
    default_cache_dir,
    find_repo_root,
    test_slot,
)
from emporium_platform.installers import InstallError, Report
from emporium_platform.k8s import CONTROL_PLANE
from emporium_platform.services import AppService
from emporium_platform.supervisor import SupervisorClient, render_conf

LOCK_TIMEOUT = 2400.0
LOG_TAIL_LINES = 30
POLL_INTERVAL = 0.25
# supervisord states in which a process will not come up without help.
DEAD_STATES = {"FATAL", "EXITED", "STOPPED", "UNKNOWN"}


class PlatformError(RuntimeError):
    """Something about the platform as a whole went wrong."""


@dataclass
class ComponentFailure:
    component: str
    reason: str
    log_file: Path | None = None
    log_tail: str = ""

    def describe(self) -> str:
        text = f"{self.component}: {self.reason}"
        if self.log_tail:
            text += f"\n--- last lines of {self.log_file} ---\n{self.log_tail}"
        return text


class ComponentFailedError(PlatformError):
    """One or more components did not become ready; `failures` says which and why."""

    def __init__(self, failures: Sequence[ComponentFailure]) -> None:
        self.failures = list(failures)
        names = ", ".join(failure.component for failure in self.failures)
        details = "\n\n".join(failure.describe() for failure in self.failures)
        super().__init__(f"failed to start: {names}\n\n{details}")

    @property
    def components(self) -> list[str]:
        return [failure.component for failure in self.failures]


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    kind: str
    state: str
    pid: int | None
    url: str
    ready: bool
    detail: str = ""
    links: dict[str, str] = field(default_factory=dict)


def _print(message: str) -> None:
    print(message, flush=True)


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on host:port (a connect succeeds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class Platform:
    """The local platform of one checkout: its supervisord and the components under it."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        ports: Ports | None = None,
        cache_dir: Path | None = None,
        report: Report = _print,
        state_name: str = STATE_DIR_NAME,
    ) -> None:
        self.config = PlatformConfig(
            root=(root or find_repo_root()).resolve(),
            ports=ports or Ports.from_env(),
            cache_dir=cache_dir or default_cache_dir(),
            state_name=state_name,
        )
        self.report = report
        self.supervisor = SupervisorClient(self.config)
        self.infra: dict[str, Component] = {c.name: c for c in INFRA}
        # The Kubernetes control plane: only when asked for (`up k8s`).
        self.cluster: dict[str, Component] = {c.name: c for c in CONTROL_PLANE}
        # The app services, from the service registry of this checkout.
        self.registry = service_registry.load(self.config.root)
        self.apps: dict[str, AppService] = {
            spec.name: AppService(spec, self.registry) for spec in self.registry
        }

    @classmethod
    def for_tests(cls, root: Path | None = None, *, report: Report = _print) -> Platform:
        """The test suite's instance: ``.platform-test/`` and the ports of ``EMPORIUM_TEST_SLOT``.

        Tests create databases, publish events and stop components; none of it may reach the
        developer's platform, which keeps serving the demo shop while the suite runs.
        """
        instance = cls(
            root,
            ports=Ports.for_tests(test_slot()),
            report=report,
            state_name=TEST_STATE_DIR_NAME,
        )
        # infrastructure only: tests run their service processes on free ports themselves
        instance.apps = {}
        return instance

    # ---- discovery -------------------------------------------------------------------

    @property
    def components(self) -> dict[str, Component]:
        """Every component, in start order."""
        return {**self.infra, **self.cluster, **self.apps}

    def component(self, name: str) -> Component:
        try:
            return self.components[name]
        except KeyError:
            raise PlatformError(f"unknown component {name!r} (known: {self._known()})") from None

    def resolve(self, name: str) -> list[Component]:
        """One component, or every member of a group (`k8s`) in start order."""
        if name in self.components:
            return [self.components[name]]
        members = [c for c in self.components.values() if c.group == name]
        if not members:
            raise PlatformError(f"unknown component {name!r} (known: {self._known()})")
        return members

    def _known(self) -> str:
        groups = sorted({c.group for c in self.components.values() if c.group})
        return ", ".join([*self.components, *groups])

    def available_apps(self) -> list[AppService]:
        return [app for app in self.apps.values() if app.available()]

    def env(self) -> dict[str, str]:
        return self.config.env()

    def _lock(self) -> FileLock:
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.config.lock_file), timeout=LOCK_TIMEOUT)

    # ---- up ----------------------------------------------------------------------------

    def _select(self, components: Sequence[str] | None, infra_only: bool) -> list[Component]:
        if components:
            chosen = [member for name in components for member in self.resolve(name)]
        else:
            chosen = list(self.infra.values())
            if not infra_only:
                chosen += self.available_apps()
        # What they need comes up too (an app its infrastructure, the API server etcd).
        names = {c.name for c in chosen}
        pending = list(chosen)
        while pending:
            for need in pending.pop().needs:
                if need not in names:
                    names.add(need)
                    pending.append(self.component(need))
        return [c for c in self.components.values() if c.name in names]

    def up(
        self, components: Sequence[str] | None = None, *, infra_only: bool = False
    ) -> list[ComponentStatus]:
        """Install what is missing, start the components and wait until each is ready.

        Safe to call again and from several processes at once: a file lock serialises callers
        and components that are already running and ready are left alone.
        """
        selected = self._select(components, infra_only)
        with self._lock():
            self._prepare_dirs()
            programs, failures = self._install(selected)
            self._write_conf(programs)
            self._ensure_supervisord()
            self.write_env_file()
            startable = [c for c in selected if c.name in programs]
            failures += self._start_in_order(startable, {f.component for f in failures})
        if failures:
            raise ComponentFailedError(failures)
        return [s for s in self.status() if s.name in {c.name for c in selected}]

    def _prepare_dirs(self) -> None:
        for directory in (self.config.data_dir, self.config.log_dir):
            directory.mkdir(parents=True, exist_ok=True)

    def _install(
        self, selected: Iterable[Component]
    ) -> tuple[dict[str, Program], list[ComponentFailure]]:
        """Programs for the selected components, installing what is missing in parallel.

        Components that are not selected but already installed keep their program in the
        conf, so a partial `up` never drops a running one from supervisord.
        """
        wanted = {c.name for c in selected}
        candidates = [
            c for c in self.components.values() if c.name in wanted or c.installed(self.config)
        ]

        def build(component: Component) -> Program | ComponentFailure | None:
            try:
                return component.program(self.config, self.report)
            except Exception as exc:
                if component.name not in wanted:
                    return None
                kind = "install failed" if isinstance(exc, InstallError) else type(exc).__name__
                return ComponentFailure(component.name, f"{kind}: {exc}")

        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(build, candidates))
        programs: dict[str, Program] = {}
        failures: list[ComponentFailure] = []
        for component, result in zip(candidates, results, strict=True):
            if isinstance(result, Program):
                programs[component.name] = result
            elif isinstance(result, ComponentFailure):
                failures.append(result)
        return programs, failures

    def _write_conf(self, programs: dict[str, Program]) -> None:
        ordered = [programs[name] for name in self.components if name in programs]
        text = render_conf(self.config, ordered)
        conf = self.config.supervisor_conf
        if not conf.exists() or conf.read_text() != text:
            tmp = conf.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(conf)
        if self.supervisor.alive():
            # Also catches up after an earlier `up` that wrote the conf and then died.
            self.supervisor.update()

    def _ensure_supervisord(self) -> None:
        if self.supervisor.alive():
            return
        self._stop_stale_supervisord()
        self.supervisor.config.supervisor_socket.unlink(missing_ok=True)
        try:
            self.supervisor.launch()
        except RuntimeError as exc:
            log = self.config.log_file("supervisord")
            raise ComponentFailedError(
                [ComponentFailure("supervisord", str(exc), log, tail(log))]
            ) from exc

    def _stop_stale_supervisord(self) -> None:
        """A supervisord of ours that no longer answers would hold ports; end it."""
        pid = self._pidfile_pid()
        if pid is None:
            return
        cmdline = Path(f"/proc/{pid}/cmdline")
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            self.config.supervisor_pidfile.unlink(missing_ok=True)
            return
        if str(self.config.supervisor_conf).encode() in argv:
            os.kill(pid, 15)
            deadline = time.monotonic() + 60
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.2)
        self.config.supervisor_pidfile.unlink(missing_ok=True)

    def _pidfile_pid(self) -> int | None:
        try:
            return int(self.config.supervisor_pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def _start_in_order(
        self, components: Sequence[Component], failed: set[str]
    ) -> list[ComponentFailure]:
        """Start in waves: a component once everything it needs is ready; one whose needs
        failed is reported and not started."""
        failures: list[ComponentFailure] = []
        pending = list(components)
        while pending:
            waiting = {c.name for c in pending}
            blocked = [c for c in pending if failed.intersection(c.needs)]
            for component in blocked:
                missing = ", ".join(sorted(failed.intersection(component.needs)))
                reason = f"not started because {missing} failed"
                failures.append(ComponentFailure(component.name, reason))
                failed.add(component.name)
            wave = [c for c in pending if c not in blocked and not waiting.intersection(c.needs)]
            pending = [c for c in pending if c not in blocked and c not in wave]
            if not wave and not blocked:
                raise PlatformError(f"components need each other: {', '.join(sorted(waiting))}")
            results = self._start_and_wait(wave)
            failed.update(result.component for result in results)
            failures += results
        return failures

    def _start_and_wait(self, components: Sequence[Component]) -> list[ComponentFailure]:
        """Start what is not running, then wait for all of them in parallel."""
        if not components:
            return []
        failures: list[ComponentFailure] = []
        waiting: list[Component] = []
        for component in components:
            info = self.supervisor.info(component.name) or {}
            if info.get("statename") in {"RUNNING", "STARTING", "BACKOFF"}:
                waiting.append(component)
                continue
            busy = [p for p in component.ports(self.config) if port_in_use(self.config.host, p)]
            if busy:
                failures.append(
                    ComponentFailure(
                        component.name,
                        f"{'port' if len(busy) == 1 else 'ports'} {', '.join(map(str, busy))} "
                        f"on {self.config.host} already in use by another process "
                        "(not started by this platform)",
                    )
                )
                continue
            try:
                component.before_start(self.config)
            except Exception as exc:
                failures.append(ComponentFailure(component.name, f"{type(exc).__name__}: {exc}"))
                continue
            self.report(f"starting {component.name}")
            self.supervisor.start(component.name)
            waiting.append(component)
        with ThreadPoolExecutor(max_workers=max(1, len(waiting))) as pool:
            results = list(pool.map(self._wait_ready, waiting))
        failures += [result for result in results if result is not None]
        return failures

    def _wait_ready(self, component: Component) -> ComponentFailure | None:
        started = time.monotonic()
        deadline = started + component.ready_timeout
        last_error = "not checked yet"
        while time.monotonic() < deadline:
            info = self.supervisor.info(component.name) or {}
            state = info.get("statename", "UNKNOWN")
            if state in DEAD_STATES:
                return self._failure(component, f"process is {state}: {info.get('description')}")
            try:
                component.check(self.config)
            except NotReadyError as exc:
                last_error = str(exc)
                time.sleep(POLL_INTERVAL)
                continue
            if state != "RUNNING":
                # Answering is not enough: it must also outlive supervisord's startsecs, or
                # the answer may come from a process that is about to exit.
                last_error = f"answers but the process is still {state}"
                time.sleep(POLL_INTERVAL)
                continue
            self.report(
                f"{component.name} ready in {time.monotonic() - started:.1f}s "
                f"({component.url(self.config)})"
            )
            return None
        return self._failure(
            component, f"not ready after {component.ready_timeout:.0f}s: {last_error}"
        )

    def _failure(self, component: Component, reason: str) -> ComponentFailure:
        log = self.config.log_file(component.name)
        log_tail = tail(log)
        if precise := component.diagnose(self.config, log_tail):
            reason = f"{precise}; {reason}"
        return ComponentFailure(component.name, reason, log, log_tail)

    def write_env_file(self) -> Path:
        lines = [f"{key}={value}" for key, value in self.env().items()]
        self.config.env_file.write_text("\n".join(lines) + "\n")
        return self.config.env_file

    # ---- single components ----------------------------------------------------------

    def stop(self, component: str) -> None:
        """Stop one component or group (its data stays); `start` brings it back."""
        members = self.resolve(component)
        if not self.supervisor.alive():
            return
        with self._lock():
            for member in reversed(members):
                self.supervisor.stop(member.name)

    def start(self, component: str) -> None:
        """Start one component or group and wait until it is ready (installs it when needed)."""
        self.up([component])

    def is_ready(self, component: str) -> bool:
        try:
            for member in self.resolve(component):
                member.check(self.config)
        except NotReadyError:
            return False
        return True

    def wait_ready(self, component: str, timeout: float | None = None) -> None:
        comp = self.component(component)
        deadline = time.monotonic() + (timeout or comp.ready_timeout)
        while True:
            try:
                comp.check(self.config)
                return
            except NotReadyError as exc:
                if time.monotonic() >= deadline:
                    raise PlatformError(f"{component} not ready: {exc}") from exc
            time.sleep(POLL_INTERVAL)

    # ---- status, down, reset ---------------------------------------------------------

    def status(self) -> list[ComponentStatus]:
        running = self.supervisor.alive()
        infos = self.supervisor.process_info() if running else {}
        installed = [c for c in self.cluster.values() if c.installed(self.config)]
        shown = [*self.infra.values(), *installed, *self.available_apps()]
        result = []
        for component in shown:
            info = infos.get(component.name)
            state = info["statename"] if info else ("NOT STARTED" if running else "DOWN")
            pid = info["pid"] if info and info.get("pid") else None
            ready = False
            detail = info.get("description", "") if info else ""
            if state in {"RUNNING", "STARTING"}:
                try:
                    component.check(self.config)
                    ready = True
                except NotReadyError as exc:
                    detail = str(exc)
            links = component.links(self.config)
            result.append(
                ComponentStatus(
                    name=component.name,
                    kind=component.kind,
                    state=state,
                    pid=pid,
                    url=component.url(self.config),
                    ready=ready,
                    detail=detail,
                    links=links,
                )
            )
        return result

    def is_running(self) -> bool:
        return self.supervisor.alive()

    def down(self) -> bool:
        """Stop the supervisord this platform launched (and so every component under it).

        Returns False when nothing of ours was running.
        """
        with self._lock():
            if self.supervisor.alive():
                self.supervisor.shutdown()
                return True
            had_stale = self._pidfile_pid() is not None
            self._stop_stale_supervisord()
            return had_stale

    def reset(self) -> None:
        """`down`, then delete data, logs and generated files; installs in caches stay."""
        self.down()
        with self._lock():
            for child in self.config.state_dir.iterdir():
                if child == self.config.lock_file:
                    continue
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()

    # ---- seed ------------------------------------------------------------------------

    def seed(self, services: Sequence[str] | None = None) -> dict[str, int]:
        """Run each service's seed command with the platform environment.

        The infrastructure those services need is brought up first. Returns exit codes.
        """
        names = services or [app.name for app in self.available_apps()]
        chosen: list[AppService] = []
        for name in names:
            component = self.component(name)
            if not isinstance(component, AppService):
                raise PlatformError(f"{name} is not an app service; only those have seed data")
            chosen.append(component)
        if needs := sorted({need for app in chosen for need in app.spec.needs}):
            self.up(needs)
        results: dict[str, int] = {}
        for app in chosen:
            try:
                command = app.seed_command(self.config)
            except InstallError as exc:
                self.report(f"cannot seed {app.name}: {exc}")
                results[app.name] = 127
                continue
            if command is None:
                continue
            self.report(f"seeding {app.name}: {' '.join(command)}")
            env = {**os.environ, **app.environment(self.config)}
            results[app.name] = subprocess.run(
                command, env=env, cwd=self.config.root, check=False
            ).returncode
        return results
