"""A real Kubernetes control plane on loopback, without containers (`up k8s`).

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the upstream servers, built
from the Go module proxy; kwok plays the kubelets: it keeps two fake nodes Ready, marks scheduled
pods Running and Ready (Job pods Succeeded), and provisions a PersistentVolume for every claim
of its `kwok-volume` StorageClass (the default class). Nothing runs in the pods and no traffic
flows: pod, node and Service IPs are only data.

Every piece is one platform component under supervisord, started in dependency order
(etcd -> API server -> the rest). The state lives in `<state>/data/k8s/`: certificates, etcd's
data and the API server's egress configuration; the admin kubeconfig is `<state>/kubeconfig`.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from filelock import FileLock

from emporium_platform import installers
from emporium_platform.components import CHECK_TIMEOUT, Component, NotReadyError, Program
from emporium_platform.config import PlatformConfig
from emporium_platform.installers import Report

GROUP = "k8s"
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
# The fake nodes' address. Nothing may dial it: see `egress_selector`.
NODE_IP = "10.243.255.1"
# Two nodes, in two zones: enough for topology spread and for draining one of them.
NODES = {"kwok-node-0": "zone-a", "kwok-node-1": "zone-b"}
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
# A deleted pod stays Terminating this long before kwok removes it, as a kubelet's pod does while
# its containers stop, so controllers observe it. Removed at once, a StatefulSet member evicted
# by a drain is recreated under the same name before the disruption controller has seen it go,
# and the budget then counts the new pod as still disrupted for two minutes.
POD_TERMINATION_MS = 1000
CERT_DAYS = 3650


def k8s_dir(config: PlatformConfig) -> Path:
    return config.data_dir / "k8s"


def pki_dir(config: PlatformConfig) -> Path:
    return k8s_dir(config) / "pki"


# ---- certificates and kubeconfig ------------------------------------------------------


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    usage: x509.ObjectIdentifier | None = None,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    """A certificate for `key`; self-signed CA when `issuer` is None."""
    now = datetime.datetime.now(tz=datetime.UTC)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is None:
        usages = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        builder = builder.add_extension(usages, critical=True)
    else:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o600 if secret else 0o644)
    tmp.replace(path)


def ensure_pki(config: PlatformConfig) -> Path:
    """The cluster CA, a serving certificate for 127.0.0.1 (API server, controller manager and
    scheduler), the admin client certificate (group system:masters) and the key pair that signs
    service account tokens. Generated once per state folder."""
    directory = pki_dir(config)
    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(str(directory / ".lock")):
        if (directory / "admin.crt").exists():
            return directory
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "emporium-local-ca")])
        ca = _issue(ca_name, ca_key, None)
        # The in-cluster names and the first Service IP: what clients of `kubernetes.default`
        # would verify; 127.0.0.1 is what everything here actually dials.
        service_ip = ipaddress.ip_network(SERVICE_CIDR)[1]
        sans: list[x509.GeneralName] = [
            x509.IPAddress(ipaddress.ip_address(config.host)),
            x509.IPAddress(service_ip),
            *(
                x509.DNSName(name)
                for name in (
                    "localhost",
                    "kubernetes",
                    "kubernetes.default",
                    "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local",
                )
            ),
        ]
        serving_key = ec.generate_private_key(ec.SECP256R1())
        serving = _issue(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]),
            serving_key,
            (ca_name, ca_key),
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            sans=sans,
        )
        admin_key = ec.generate_private_key(ec.SECP256R1())
        admin = _issue(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "emporium-admin"),
                ]
            ),
            admin_key,
            (ca_name, ca_key),
            usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        )
        sa_key = ec.generate_private_key(ec.SECP256R1())
        pem = serialization.Encoding.PEM
        _write(directory / "ca.key", _pem_key(ca_key), secret=True)
        _write(directory / "ca.crt", ca.public_bytes(pem))
        _write(directory / "serving.key", _pem_key(serving_key), secret=True)
        _write(directory / "serving.crt", serving.public_bytes(pem))
        _write(directory / "sa.key", _pem_key(sa_key), secret=True)
        _write(
            directory / "sa.pub",
            sa_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo),
        )
        _write(directory / "admin.key", _pem_key(admin_key), secret=True)
        # Last: its presence marks the set as complete.
        _write(directory / "admin.crt", admin.public_bytes(pem))
    return directory


def api_url(config: PlatformConfig) -> str:
    return f"https://{config.host}:{config.ports.k8s_api}"


def write_kubeconfig(config: PlatformConfig) -> Path:
    """The admin kubeconfig with its certificates embedded (it works when copied elsewhere)."""
    pki = ensure_pki(config)

    def data(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "emporium-local",
                "cluster": {
                    "server": api_url(config),
                    "certificate-authority-data": data("ca.crt"),
                },
            }
        ],
        "users": [
            {
                "name": "emporium-admin",
                "user": {
                    "client-certificate-data": data("admin.crt"),
                    "client-key-data": data("admin.key"),
                },
            }
        ],
        "contexts": [
            {
                "name": "emporium-local",
                "context": {"cluster": "emporium-local", "user": "emporium-admin"},
            }
        ],
        "current-context": "emporium-local",
    }
    config.state_dir.mkdir(parents=True, exist_ok=True)
    _write(config.kubeconfig, yaml.safe_dump(kubeconfig, sort_keys=False).encode(), secret=True)
    return config.kubeconfig


def _tls(config: PlatformConfig, *, admin: bool = False) -> ssl.SSLContext:
    """Trusts the cluster CA; presents the admin client certificate when asked to."""
    pki = pki_dir(config)
    context = ssl.create_default_context(cafile=pki / "ca.crt")
    if admin:
        context.load_cert_chain(pki / "admin.crt", pki / "admin.key")
    return context


def api_client(config: PlatformConfig) -> httpx.Client:
    """An admin client of the API server (certificates from the state folder)."""
    return httpx.Client(
        base_url=api_url(config), verify=_tls(config, admin=True), timeout=CHECK_TIMEOUT
    )


def _get_ok(url: str, config: PlatformConfig) -> httpx.Response:
    try:
        response = httpx.get(url, verify=_tls(config), timeout=CHECK_TIMEOUT)
    except httpx.HTTPError as exc:
        raise NotReadyError(f"GET {url} failed: {exc!r}") from exc
    if response.status_code != 200:
        raise NotReadyError(f"GET {url} answered {response.status_code}: {response.text[:200]}")
    return response


def _api_get(config: PlatformConfig, path: str) -> dict[str, Any] | None:
    """An object from the API server, None when it does not exist (yet)."""
    try:
        with api_client(config) as client:
            response = client.get(path)
    except httpx.HTTPError as exc:
        raise NotReadyError(f"GET {path} failed: {exc!r}") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise NotReadyError(f"GET {path} answered {response.status_code}: {response.text[:200]}")
    return dict(response.json())


def create_if_missing(config: PlatformConfig, path: str, manifest: dict[str, Any]) -> None:
    """POST `manifest` to the collection at `path`; an existing object of that name is kept."""
    with api_client(config) as client:
        response = client.post(path, json=manifest)
    if response.status_code not in (201, 409):
        raise RuntimeError(
            f"creating {manifest['kind']} {manifest['metadata']['name']} answered "
            f"{response.status_code}: {response.text[:300]}"
        )


def node_manifest(name: str, zone: str) -> dict[str, Any]:
    """A node kwok keeps Ready (it manages the nodes carrying its annotation). Either node
    alone holds the whole production-sized release (every service's pods and datastore
    members), so a drain of the other one can complete."""
    capacity = {"cpu": "64", "memory": "512Gi", "pods": "250", "ephemeral-storage": "200Gi"}
    key, value = KWOK_NODE_ANNOTATION
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {key: value, "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
                "topology.kubernetes.io/zone": zone,
                "type": "kwok",
            },
        },
        "status": {
            "allocatable": capacity,
            "capacity": capacity,
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
            },
            "phase": "Running",
        },
    }


def _node_ready(node: dict[str, Any] | None) -> bool:
    conditions = (node or {}).get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def egress_selector(config: PlatformConfig) -> Path:
    """Send every connection the API server would open *into the cluster* (kubelets for logs,
    exec and port-forward; Service-backed webhooks and APIServices; the proxy subresources) to
    a unix socket that never exists: pod, node and Service IPs are fake, and the kernel would
    route them off this machine. Such requests fail at once instead."""
    directory = k8s_dir(config)
    directory.mkdir(parents=True, exist_ok=True)
    socket = directory / "no-cluster-egress.sock"
    socket.unlink(missing_ok=True)
    selector = {
        "apiVersion": "apiserver.k8s.io/v1beta1",
        "kind": "EgressSelectorConfiguration",
        "egressSelections": [
            {
                "name": "cluster",
                "connection": {
                    "proxyProtocol": "HTTPConnect",
                    "transport": {"uds": {"udsName": str(socket)}},
                },
            }
        ],
    }
    path = directory / "egress-selector.yaml"
    _write(path, yaml.safe_dump(selector, sort_keys=False).encode())
    return path


def kwok_stages(config: PlatformConfig, upstream: Path) -> Path:
    """kwok's stages as installed, with pods that terminate for POD_TERMINATION_MS."""
    stages = [stage for stage in yaml.safe_load_all(upstream.read_text()) if stage]
    deletes = [stage for stage in stages if stage["metadata"]["name"] == "pod-delete"]
    if len(deletes) != 1:
        raise installers.InstallError(f"{upstream} has no single `pod-delete` stage")
    deletes[0]["spec"]["delay"] = {"durationMilliseconds": POD_TERMINATION_MS}
    directory = k8s_dir(config)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "kwok-stages.yaml"
    _write(path, yaml.safe_dump_all(stages, sort_keys=False).encode())
    return path


# ---- the components -------------------------------------------------------------------


class ControlPlaneComponent(Component):
    """What the five pieces share: one install, the `k8s` group. The platform keeps them out of
    a bare `up` (they are not infrastructure of the services)."""

    kind = "k8s"
    group = GROUP
    ready_timeout = 60.0

    def installed(self, config: PlatformConfig) -> bool:
        return installers.control_plane_installed(config.cache_dir)

    def binaries(self, config: PlatformConfig, report: Report) -> installers.ControlPlaneBinaries:
        binaries = installers.ensure_control_plane(config.cache_dir, report)
        k8s_dir(config).mkdir(parents=True, exist_ok=True)
        return binaries

    def _program(self, config: PlatformConfig, command: list[str], priority: int) -> Program:
        return Program(
            name=self.name,
            command=tuple(command),
            directory=k8s_dir(config),
            stopwaitsecs=15,
            priority=priority,
        )


class Etcd(ControlPlaneComponent):
    name = "k8s-etcd"

    def program(self, config: PlatformConfig, report: Report) -> Program:
        binaries = self.binaries(config, report)
        peer = f"http://{config.host}:{config.ports.k8s_etcd_peer}"
        settings = {
            "name": "emporium-local",
            "data-dir": str(k8s_dir(config) / "etcd"),
            "listen-client-urls": self.url(config),
            "advertise-client-urls": self.url(config),
            "listen-peer-urls": peer,
            "initial-advertise-peer-urls": peer,
            "initial-cluster": f"emporium-local={peer}",
            "initial-cluster-state": "new",
            # A throw-away local cluster: speed over durability across power loss.
            "unsafe-no-fsync": True,
            "log-level": "warn",
        }
        # With a config file etcd ignores its ETCD_* environment variables, which it would
        # otherwise read as flags (an exported ETCD_VERSION stops it from starting).
        path = k8s_dir(config) / "etcd.yaml"
        _write(path, yaml.safe_dump(settings, sort_keys=False).encode())
        return self._program(config, [str(binaries.etcd), "--config-file", str(path)], 40)

    def check(self, config: PlatformConfig) -> None:
        health = _get_ok(f"{self.url(config)}/health", config).json()
        if health.get("health") != "true":
            raise NotReadyError(f"etcd health is {health}")

    def ports(self, config: PlatformConfig) -> tuple[int, ...]:
        return (config.ports.k8s_etcd, config.ports.k8s_etcd_peer)

    def url(self, config: PlatformConfig) -> str:
        return f"http://{config.host}:{config.ports.k8s_etcd}"


class ApiServer(ControlPlaneComponent):
    name = "k8s-apiserver"
    needs = ("k8s-etcd",)

    def program(self, config: PlatformConfig, report: Report) -> Program:
        binaries = self.binaries(config, report)
        pki = ensure_pki(config)
        write_kubeconfig(config)
        command = [
            str(binaries.kube_apiserver),
            f"--etcd-servers={Etcd().url(config)}",
            f"--bind-address={config.host}",
            f"--advertise-address={config.host}",
            f"--secure-port={config.ports.k8s_api}",
            # Loopback endpoints are invalid for the `kubernetes` Service: leave it without.
            "--endpoint-reconciler-type=none",
            f"--egress-selector-config-file={egress_selector(config)}",
            f"--tls-cert-file={pki / 'serving.crt'}",
            f"--tls-private-key-file={pki / 'serving.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            # As on real clusters, Pod Security admission (not this flag) decides what runs.
            "--allow-privileged=true",
            "--profiling=false",
            f"--cert-dir={pki / 'apiserver'}",
        ]
        return self._program(config, command, 41)

    def check(self, config: PlatformConfig) -> None:
        _get_ok(f"{self.url(config)}/readyz", config)

    def ports(self, config: PlatformConfig) -> tuple[int, ...]:
        return (config.ports.k8s_api,)

    def url(self, config: PlatformConfig) -> str:
        return api_url(config)

    def links(self, config: PlatformConfig) -> dict[str, str]:
        tools = installers.kube_tools_dir(config.cache_dir)
        return {"KUBECONFIG": str(config.kubeconfig), "kubectl, helm": str(tools)}


def _client_flags(config: PlatformConfig, port: int, name: str) -> list[str]:
    """What the controller manager and the scheduler share: the admin kubeconfig, their health
    endpoint on loopback with our serving certificate, one instance (no leader election)."""
    pki = pki_dir(config)
    return [
        f"--kubeconfig={config.kubeconfig}",
        f"--bind-address={config.host}",
        f"--secure-port={port}",
        f"--tls-cert-file={pki / 'serving.crt'}",
        f"--tls-private-key-file={pki / 'serving.key'}",
        f"--cert-dir={pki / name}",
        "--leader-elect=false",
        "--profiling=false",
    ]


class ControllerManager(ControlPlaneComponent):
    name = "k8s-controller-manager"
    needs = ("k8s-apiserver",)

    def program(self, config: PlatformConfig, report: Report) -> Program:
        binaries = self.binaries(config, report)
        pki = ensure_pki(config)
        command = [
            str(binaries.kube_controller_manager),
            *_client_flags(config, config.ports.k8s_controller_manager, "controller-manager"),
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
        ]
        return self._program(config, command, 42)

    def check(self, config: PlatformConfig) -> None:
        _get_ok(f"{self.url(config)}/healthz", config)
        # Its service account controller is what makes namespaces usable for pods.
        if _api_get(config, "/api/v1/namespaces/default/serviceaccounts/default") is None:
            raise NotReadyError("the `default` ServiceAccount does not exist yet")

    def ports(self, config: PlatformConfig) -> tuple[int, ...]:
        return (config.ports.k8s_controller_manager,)

    def url(self, config: PlatformConfig) -> str:
        return f"https://{config.host}:{config.ports.k8s_controller_manager}"


class Scheduler(ControlPlaneComponent):
    name = "k8s-scheduler"
    needs = ("k8s-apiserver",)

    def program(self, config: PlatformConfig, report: Report) -> Program:
        binaries = self.binaries(config, report)
        ensure_pki(config)
        command = [
            str(binaries.kube_scheduler),
            *_client_flags(config, config.ports.k8s_scheduler, "scheduler"),
        ]
        return self._program(config, command, 42)

    def check(self, config: PlatformConfig) -> None:
        _get_ok(f"{self.url(config)}/healthz", config)

    def ports(self, config: PlatformConfig) -> tuple[int, ...]:
        return (config.ports.k8s_scheduler,)

    def url(self, config: PlatformConfig) -> str:
        return f"https://{config.host}:{config.ports.k8s_scheduler}"


class Kwok(ControlPlaneComponent):
    name = "k8s-kwok"
    needs = ("k8s-apiserver",)

    def program(self, config: PlatformConfig, report: Report) -> Program:
        binaries = self.binaries(config, report)
        key, value = KWOK_NODE_ANNOTATION
        command = [
            str(binaries.kwok),
            f"--kubeconfig={config.kubeconfig}",
            f"--config={kwok_stages(config, binaries.kwok_stages)}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={key}={value}",
            # Its default pod CIDR (10.0.0.0/24) overlaps the usual Service range.
            f"--cidr={POD_CIDR}",
            f"--node-ip={NODE_IP}",
            "--node-lease-duration-seconds=40",
            f"--server-address={config.host}:{config.ports.k8s_kwok}",
        ]
        return self._program(config, command, 42)

    def before_start(self, config: PlatformConfig) -> None:
        """The nodes it keeps Ready, and the default StorageClass its volume stages serve."""
        for name, zone in NODES.items():
            create_if_missing(config, "/api/v1/nodes", node_manifest(name, zone))
        binaries = installers.control_plane_binaries(config.cache_dir)
        storage_class = yaml.safe_load(binaries.storage_class.read_text())
        create_if_missing(config, "/apis/storage.k8s.io/v1/storageclasses", storage_class)

    def check(self, config: PlatformConfig) -> None:
        _get_ok(f"{self.url(config)}/healthz", config)
        for name in NODES:
            if not _node_ready(_api_get(config, f"/api/v1/nodes/{name}")):
                raise NotReadyError(f"node {name} is not Ready yet")

    def ports(self, config: PlatformConfig) -> tuple[int, ...]:
        return (config.ports.k8s_kwok,)

    def url(self, config: PlatformConfig) -> str:
        return f"http://{config.host}:{config.ports.k8s_kwok}"


CONTROL_PLANE: tuple[Component, ...] = (
    Etcd(),
    ApiServer(),
    ControllerManager(),
    Scheduler(),
    Kwok(),
)
