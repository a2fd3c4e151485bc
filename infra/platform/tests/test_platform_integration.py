"""The platform tooling against the real components.

The shared platform (the `platform` fixture) is only read here; everything that stops,
breaks or tears down runs on isolated instances with their own root folder and free ports,
so tests of other packages that use the shared platform at the same time are not disturbed.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict, replace
from pathlib import Path

import pytest
from emporium_platform import ComponentFailedError, Platform, Ports
from emporium_platform.pytest_plugin import PlatformHandle

pytestmark = pytest.mark.integration


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports() -> Ports:
    """Ports nothing listens on right now, one per platform port.

    The kernel picks them, except OpenSearch's HTTP port: its runner only serves up to 9299.
    """
    with ExitStack() as stack:
        numbers = []
        for _ in range(len(asdict(Ports()))):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            numbers.append(sock.getsockname()[1])
    opensearch = next(p for p in range(9299, 9200, -1) if _free(p) and _free(p - 1))
    return replace(Ports(*numbers), opensearch=opensearch)


def isolated(root: Path) -> Platform:
    return Platform(root, ports=free_ports(), report=lambda _: None)


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    platform = isolated(tmp_path_factory.mktemp("platform"))
    yield platform
    platform.down()


def pids(platform: Platform) -> dict[str, int | None]:
    return {status.name: status.pid for status in platform.status()}


def test_shared_platform_status_reports_every_component(platform: PlatformHandle) -> None:
    statuses = {status.name: status for status in platform.platform.status()}
    expected = {
        "redis": platform.redis_url,
        "nats": platform.nats_url,
        "ferretdb": platform.mongo_url,
        "opensearch": platform.opensearch_url,
        "stripe-mock": platform.config.stripe_api_base,
        "mailpit": platform.config.smtp_url,
    }
    for name, url in expected.items():
        status = statuses[name]
        assert status.state == "RUNNING", status
        assert status.ready, status
        assert isinstance(status.pid, int)
        assert status.url == url
    env_file = platform.platform.config.env_file.read_text().splitlines()
    assert f"EMPORIUM_MONGO_URL={platform.mongo_url}" in env_file
    assert f"EMPORIUM_OPENSEARCH_URL={platform.opensearch_url}" in env_file


def test_up_is_idempotent(instance: Platform) -> None:
    instance.up(["redis", "nats"])
    first = pids(instance)
    supervisord = instance.supervisor.pid()
    again = instance.up(["redis", "nats"])
    assert {s.name for s in again} == {"redis", "nats"}
    assert all(s.ready for s in again)
    assert pids(instance) == first
    assert instance.supervisor.pid() == supervisord


def test_concurrent_up_from_two_processes_shares_one_supervisord(tmp_path: Path) -> None:
    ports = free_ports()
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from emporium_platform import Platform, Ports
        platform = Platform(Path({str(tmp_path)!r}), ports=Ports(**{asdict(ports)!r}))
        platform.up(["redis"])
        print("PID", platform.supervisor.pid())
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    try:
        outputs = [proc.communicate(timeout=120) for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0], outputs
        reported = {line for out, _ in outputs for line in out.decode().splitlines()}
        assert len({line for line in reported if line.startswith("PID")}) == 1
    finally:
        Platform(tmp_path, ports=ports).down()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("component", ["redis", "nats", "ferretdb", "opensearch"])
def test_stopped_component_comes_back_ready(instance: Platform, component: str) -> None:
    instance.up([component])
    assert instance.is_ready(component)
    instance.stop(component)
    assert not instance.is_ready(component)
    state = {s.name: s.state for s in instance.status()}[component]
    assert state == "STOPPED"
    instance.start(component)
    assert instance.is_ready(component)
    if component == "opensearch":
        # Keep the second JVM only as long as this test needs it.
        instance.stop(component)


def test_port_taken_by_another_process_names_component_and_reason(tmp_path: Path) -> None:
    platform = isolated(tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", platform.config.ports.redis))
        squatter.listen()
        try:
            with pytest.raises(ComponentFailedError) as caught:
                platform.up(["redis", "nats"])
        finally:
            platform.down()
    assert caught.value.components == ["redis"]
    reason = caught.value.failures[0].reason
    assert str(platform.config.ports.redis) in reason
    assert "already in use" in reason


def test_crashing_component_is_reported_with_its_log(tmp_path: Path) -> None:
    platform = isolated(tmp_path)
    # JetStream refuses a storage path that is a file: nats-server exits at start.
    store = platform.config.data_dir / "nats"
    store.parent.mkdir(parents=True)
    store.write_text("not a directory")
    try:
        with pytest.raises(ComponentFailedError) as caught:
            platform.up(["nats"])
    finally:
        platform.down()
    failure = caught.value.failures[0]
    assert failure.component == "nats"
    assert "FATAL" in failure.reason or "EXITED" in failure.reason
    assert "storage directory is not a directory" in failure.log_tail
    assert "nats" in str(caught.value)


def test_down_stops_only_what_it_started(tmp_path: Path, platform: PlatformHandle) -> None:
    ours = isolated(tmp_path)
    ours.up(["redis"])
    redis_pid = {s.name: s.pid for s in ours.status()}["redis"]
    assert redis_pid is not None
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        assert ours.down() is True
        assert not Path(f"/proc/{redis_pid}").exists() or _zombie(redis_pid)
        assert bystander.poll() is None
        assert platform.is_ready("redis"), "the shared platform must be untouched"
        assert ours.down() is False
    finally:
        bystander.kill()
        bystander.wait()


def test_reset_deletes_data_and_keeps_the_cache(tmp_path: Path) -> None:
    platform = isolated(tmp_path)
    platform.up(["redis"])
    marker = platform.config.data_dir / "redis" / "marker"
    marker.write_text("x")
    platform.reset()
    assert not marker.exists()
    assert not platform.is_running()
    deadline = time.monotonic() + 10
    while platform.is_ready("redis") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not platform.is_ready("redis")
    assert platform.config.cache_dir.exists()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
