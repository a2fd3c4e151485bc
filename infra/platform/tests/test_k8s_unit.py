"""The Kubernetes control plane's generated pieces: certificates, kubeconfig, commands, the start
order of the `k8s` group. (Running it is the `cluster` tier's job: charts/tests/cluster.)"""

from __future__ import annotations

import base64
import ipaddress
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID
from emporium_platform import Platform, PlatformError, Ports, installers, k8s
from emporium_platform.config import PlatformConfig

pytestmark = pytest.mark.unit

LOOPBACK = ipaddress.ip_address("127.0.0.1")
STAGES = (
    "---\nkind: Stage\nmetadata: {name: pod-ready}\nspec: {next: {}}\n"
    "---\nkind: Stage\nmetadata: {name: pod-delete}\nspec: {next: {delete: true}}\n"
)


@pytest.fixture
def config(tmp_path: Path) -> PlatformConfig:
    return PlatformConfig(root=tmp_path / "repo", cache_dir=tmp_path / "cache")


@pytest.fixture
def binaries(config: PlatformConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands without the (minutes-long) build: the installer reports the cached paths."""
    paths = installers.control_plane_binaries(config.cache_dir)
    paths.kwok_stages.parent.mkdir(parents=True)
    paths.kwok_stages.write_text(STAGES)
    monkeypatch.setattr(installers, "ensure_control_plane", lambda cache, report: paths)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_pki_serves_loopback_and_admin_is_a_cluster_admin(config: PlatformConfig) -> None:
    pki = k8s.ensure_pki(config)
    ca, serving, admin = (_cert(pki / f"{n}.crt") for n in ("ca", "serving", "admin"))
    for cert in (serving, admin):
        assert cert.issuer == ca.subject
        cert.verify_directly_issued_by(ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert LOOPBACK in sans.get_values_for_type(x509.IPAddress)
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)
    groups = admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [g.value for g in groups] == ["system:masters"]
    assert (pki / "ca.key").stat().st_mode & 0o077 == 0
    # Generated once: a second call keeps the CA every kubeconfig already trusts.
    k8s.ensure_pki(config)
    assert _cert(pki / "ca.crt") == ca


def test_kubeconfig_embeds_its_credentials(config: PlatformConfig) -> None:
    path = k8s.write_kubeconfig(config)
    assert path == config.state_dir / "kubeconfig"
    kubeconfig = yaml.safe_load(path.read_text())
    cluster = kubeconfig["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:16443"
    ca = base64.b64decode(cluster["certificate-authority-data"])
    assert ca == (k8s.pki_dir(config) / "ca.crt").read_bytes()
    user = kubeconfig["users"][0]["user"]
    assert set(user) == {"client-certificate-data", "client-key-data"}
    assert path.stat().st_mode & 0o077 == 0


def test_cluster_egress_goes_to_a_socket_that_does_not_exist(config: PlatformConfig) -> None:
    selector = yaml.safe_load(k8s.egress_selector(config).read_text())
    [selection] = selector["egressSelections"]
    assert selection["name"] == "cluster"
    socket = Path(selection["connection"]["transport"]["uds"]["udsName"])
    assert not socket.exists()
    assert socket.parent == k8s.k8s_dir(config)


@pytest.mark.usefixtures("binaries")
def test_every_process_binds_loopback_only(config: PlatformConfig) -> None:
    commands = {c.name: c.program(config, lambda _: None).command for c in k8s.CONTROL_PLANE}
    apiserver = commands["k8s-apiserver"]
    assert "--bind-address=127.0.0.1" in apiserver
    assert "--advertise-address=127.0.0.1" in apiserver
    assert "--authorization-mode=RBAC" in apiserver
    assert any(flag.startswith("--egress-selector-config-file=") for flag in apiserver)
    for name in ("k8s-controller-manager", "k8s-scheduler"):
        assert "--bind-address=127.0.0.1" in commands[name]
    assert "--server-address=127.0.0.1:10369" in commands["k8s-kwok"]
    assert f"--config={k8s.k8s_dir(config) / 'kwok-stages.yaml'}" in commands["k8s-kwok"]
    etcd = yaml.safe_load((k8s.k8s_dir(config) / "etcd.yaml").read_text())
    urls = [etcd[key] for key in ("listen-client-urls", "listen-peer-urls")]
    assert urls == ["http://127.0.0.1:23790", "http://127.0.0.1:23800"]
    # With a config file etcd ignores ETCD_* variables of the environment.
    assert commands["k8s-etcd"][1:] == ("--config-file", str(k8s.k8s_dir(config) / "etcd.yaml"))


def test_ports_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMPORIUM_PORT_K8S_API", "26443")
    ports = Ports.from_env()
    assert ports.k8s_api == 26443
    assert ports.redis == Ports().redis


def test_k8s_is_a_group_started_in_dependency_order(tmp_path: Path) -> None:
    platform = Platform(tmp_path, cache_dir=tmp_path / "cache")
    members = [c.name for c in platform.resolve("k8s")]
    assert members[:2] == ["k8s-etcd", "k8s-apiserver"]
    assert set(members) == {c.name for c in k8s.CONTROL_PLANE}
    # Naming one piece brings up what it needs; a bare `up` leaves the control plane out.
    assert [c.name for c in platform._select(["k8s-kwok"], infra_only=False)] == [
        "k8s-etcd",
        "k8s-apiserver",
        "k8s-kwok",
    ]
    assert not {c.name for c in platform._select(None, infra_only=False)} & set(members)
    with pytest.raises(PlatformError, match=r"known: .*k8s"):
        platform.resolve("k9s")


def test_nodes_are_kwok_managed_in_two_zones() -> None:
    nodes = [k8s.node_manifest(name, zone) for name, zone in k8s.NODES.items()]
    key, value = k8s.KWOK_NODE_ANNOTATION
    assert all(node["metadata"]["annotations"][key] == value for node in nodes)
    zones = {node["metadata"]["labels"]["topology.kubernetes.io/zone"] for node in nodes}
    assert len(zones) == len(nodes) == 2


def test_kwok_lets_deleted_pods_terminate_briefly(config: PlatformConfig, tmp_path: Path) -> None:
    upstream = tmp_path / "stages.yaml"
    upstream.write_text(STAGES)
    stages = list(yaml.safe_load_all(k8s.kwok_stages(config, upstream).read_text()))
    delete = next(s for s in stages if s["metadata"]["name"] == "pod-delete")
    assert delete["spec"]["delay"] == {"durationMilliseconds": k8s.POD_TERMINATION_MS}
    assert delete["spec"]["next"] == {"delete": True}
    assert len(stages) == 2
