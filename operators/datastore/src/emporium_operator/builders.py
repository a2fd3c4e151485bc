"""Pure builders: a Datastore (name, namespace, owner, spec, credentials) in, Kubernetes objects
out.

Nothing here talks to the API server or reads the clock, so every object the operator creates can
be checked in unit tests and validated against the Kubernetes schemas offline.
"""

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from emporium_operator.constants import (
    API_VERSION,
    DATA_VOLUME,
    ENGINES,
    HEADLESS_SUFFIX,
    KIND,
    LABEL_COMPONENT,
    LABEL_DATASTORE,
    LABEL_ENGINE,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    LABEL_PART_OF,
    LABEL_RETAINED,
    MONGODB_REPLICA_SET,
    OPENSEARCH_TRANSPORT_PORT,
    OPERATOR_NAME,
    PART_OF,
    SECRET_KEY_HOST,
    SECRET_KEY_KEYFILE,
    SECRET_KEY_PASSWORD,
    SECRET_KEY_PORT,
    SECRET_KEY_URL,
    SECRET_KEY_USERNAME,
    SECRET_SUFFIX,
    DeletionPolicy,
    Engine,
)
from emporium_operator.spec import DatastoreSpec, quantity_bytes

Manifest = dict[str, Any]

MEMBER_COMPONENT = "datastore"

# Fields the API server lets us change after creation; everything else is left as created
# (a StatefulSet's selector and volumeClaimTemplates, a Service's clusterIP, a Job's template).
MUTABLE_SPEC_FIELDS: dict[str, tuple[str, ...]] = {
    "StatefulSet": (
        "replicas",
        "template",
        "updateStrategy",
        "minReadySeconds",
        "persistentVolumeClaimRetentionPolicy",
    ),
    "Service": ("ports", "selector", "publishNotReadyAddresses"),
    "PodDisruptionBudget": ("maxUnavailable", "selector"),
}


@dataclass(frozen=True)
class Datastore:
    """One Datastore resource as the builders see it."""

    name: str
    namespace: str
    uid: str
    spec: DatastoreSpec


@dataclass(frozen=True)
class Credentials:
    """Generated once, kept in the connection Secret, reused on every later reconcile."""

    password: str
    keyfile: str


def secret_name(name: str) -> str:
    return f"{name}{SECRET_SUFFIX}"


def headless_name(name: str) -> str:
    return f"{name}{HEADLESS_SUFFIX}"


def selector_labels(ds: Datastore) -> dict[str, str]:
    """The StatefulSet's pod selector; fixed at creation, so never include the version. The
    replica set Job's pods carry these labels too (the NetworkPolicy lets them reach the
    members by `emporium.io/datastore`): select members with `member_labels`."""
    return {
        LABEL_NAME: ds.spec.engine.value,
        LABEL_INSTANCE: ds.name,
        LABEL_DATASTORE: ds.name,
    }


def member_labels(ds: Datastore) -> dict[str, str]:
    """The datastore's members only, not its configuration Job: what the Services route to and
    the PodDisruptionBudget counts. A budget that matched the Job's pods would refuse every
    eviction ("jobs.batch does not implement the scale subresource") and block node drains."""
    return {**selector_labels(ds), LABEL_COMPONENT: MEMBER_COMPONENT}


def labels(ds: Datastore) -> dict[str, str]:
    return {
        **selector_labels(ds),
        LABEL_COMPONENT: MEMBER_COMPONENT,
        LABEL_PART_OF: PART_OF,
        LABEL_MANAGED_BY: OPERATOR_NAME,
        LABEL_ENGINE: ds.spec.engine.value,
        "app.kubernetes.io/version": ds.spec.version,
    }


def owner_reference(ds: Datastore) -> dict[str, Any]:
    """Children are owned (and garbage-collected) with their Datastore."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": ds.name,
        "uid": ds.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _metadata(ds: Datastore, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": ds.namespace,
        "labels": labels(ds),
        "ownerReferences": [owner_reference(ds)],
    }


def service_host(ds: Datastore) -> str:
    return f"{ds.name}.{ds.namespace}.svc"


def connection_url(ds: Datastore, credentials: Credentials) -> str:
    """The URL services put in EMPORIUM_<ENGINE>_URL. Stable across scaling: clients discover
    the members themselves (MongoDB replica set) or only ever talk to the primary (Redis)."""
    profile = ENGINES[ds.spec.engine]
    host = f"{service_host(ds)}:{profile.port}"
    password = quote(credentials.password, safe="")
    match ds.spec.engine:
        case Engine.MONGODB:
            return (
                f"mongodb://{profile.username}:{password}@{host}/"
                f"?replicaSet={MONGODB_REPLICA_SET}&authSource=admin"
            )
        case Engine.REDIS:
            return f"redis://{profile.username}:{password}@{host}/0"
        case Engine.OPENSEARCH:
            return f"http://{host}"


def build_secret(ds: Datastore, credentials: Credentials) -> Manifest:
    profile = ENGINES[ds.spec.engine]
    data = {
        SECRET_KEY_URL: connection_url(ds, credentials),
        SECRET_KEY_HOST: service_host(ds),
        SECRET_KEY_PORT: str(profile.port),
    }
    if profile.username is not None:
        data[SECRET_KEY_USERNAME] = profile.username
        data[SECRET_KEY_PASSWORD] = credentials.password
    if ds.spec.engine is Engine.MONGODB:
        data[SECRET_KEY_KEYFILE] = credentials.keyfile
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(ds, secret_name(ds.name)),
        "type": "Opaque",
        # `data`, not `stringData`: what we write is exactly what we read back next time.
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


def _ports(ds: Datastore) -> list[dict[str, Any]]:
    ports = [{"name": "client", "port": ENGINES[ds.spec.engine].port, "targetPort": "client"}]
    if ds.spec.engine is Engine.OPENSEARCH:
        ports.append(
            {"name": "transport", "port": OPENSEARCH_TRANSPORT_PORT, "targetPort": "transport"}
        )
    return ports


def build_headless_service(ds: Datastore) -> Manifest:
    """Stable per-pod DNS names for replication and cluster discovery."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(ds, headless_name(ds.name)),
        "spec": {
            "clusterIP": "None",
            # Members must find each other before they are ready (replica set / cluster bootstrap).
            "publishNotReadyAddresses": True,
            "selector": member_labels(ds),
            "ports": _ports(ds),
        },
    }


def build_service(ds: Datastore) -> Manifest:
    """The client Service. Redis replicas are read-only, so Redis clients go to pod 0 only."""
    selector = member_labels(ds)
    if ds.spec.engine is Engine.REDIS:
        selector = {**selector, "statefulset.kubernetes.io/pod-name": f"{ds.name}-0"}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(ds, ds.name),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [p for p in _ports(ds) if p["name"] == "client"],
        },
    }


def build_pdb(ds: Datastore) -> Manifest:
    """At most one member down through voluntary disruptions (drains): a majority stays up, and
    a single-replica store can still be drained (it is briefly unavailable, as it must be)."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(ds, ds.name),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": member_labels(ds)}},
    }


def _secret_env(ds: Datastore, env_name: str, key: str) -> dict[str, Any]:
    return {
        "name": env_name,
        "valueFrom": {"secretKeyRef": {"name": secret_name(ds.name), "key": key}},
    }


def _tcp_probe(period: int, failures: int) -> dict[str, Any]:
    return {
        "tcpSocket": {"port": "client"},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 5,
    }


def _exec_probe(command: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "exec": {"command": ["sh", "-c", command]},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 5,
    }


def _http_probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "client"},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 5,
    }


def opensearch_heap_mib(spec: DatastoreSpec) -> int:
    """Half the memory (limit, else request, else 2Gi) goes to the JVM heap, the rest to the
    page cache Lucene relies on."""
    memory = spec.resources.limits.get("memory") or spec.resources.requests.get("memory") or "2Gi"
    return max(256, quantity_bytes(memory) // 2 // 2**20)


def _engine_container(ds: Datastore) -> dict[str, Any]:
    spec = ds.spec
    profile = ENGINES[spec.engine]
    headless = f"{headless_name(ds.name)}.{ds.namespace}.svc"
    ports: list[dict[str, Any]] = [{"name": "client", "containerPort": profile.port}]
    mounts: list[dict[str, Any]] = [
        {"name": DATA_VOLUME, "mountPath": profile.data_path},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    env: list[dict[str, Any]] = []
    command: list[str] | None
    args: list[str] | None
    match spec.engine:
        case Engine.MONGODB:
            env = [
                {"name": "MONGO_INITDB_ROOT_USERNAME", "value": profile.username},
                _secret_env(ds, "MONGO_INITDB_ROOT_PASSWORD", SECRET_KEY_PASSWORD),
            ]
            command = None
            args = [
                "--replSet",
                MONGODB_REPLICA_SET,
                "--bind_ip_all",
                "--keyFile",
                "/etc/mongodb-keyfile/keyfile",
            ]
            mounts += [
                {"name": "keyfile", "mountPath": "/etc/mongodb-keyfile", "readOnly": True},
                {"name": "configdb", "mountPath": "/data/configdb"},
            ]
            ping = 'mongosh --quiet --eval "db.adminCommand({ping: 1}).ok" | grep -q 1'
            readiness = _exec_probe(ping, 10, 3)
            liveness = _tcp_probe(10, 6)
        case Engine.REDIS:
            env = [_secret_env(ds, "REDIS_PASSWORD", SECRET_KEY_PASSWORD)]
            primary = f"{ds.name}-0.{headless}"
            # Pod 0 is the primary; the others replicate from it (read-only replicas).
            script = (
                'set -- --appendonly yes --dir /data --requirepass "$REDIS_PASSWORD" '
                '--masterauth "$REDIS_PASSWORD"; '
                f'if [ "${{HOSTNAME##*-}}" != "0" ]; then set -- "$@" --replicaof {primary} '
                f"{profile.port}; fi; "
                'exec redis-server "$@"'
            )
            command = ["sh", "-c", script]
            args = None
            ping = 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli ping | grep -q PONG'
            readiness = _exec_probe(ping, 5, 3)
            liveness = _tcp_probe(10, 6)
        case Engine.OPENSEARCH:
            ports.append({"name": "transport", "containerPort": OPENSEARCH_TRANSPORT_PORT})
            heap = opensearch_heap_mib(spec)
            env = [
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "cluster.name", "value": ds.name},
                {"name": "node.name", "value": "$(POD_NAME)"},
                {"name": "network.host", "value": "0.0.0.0"},
                # mmap needs vm.max_map_count raised on the node (a privileged init container);
                # niofs avoids it so the pod fits the restricted Pod Security profile.
                {"name": "node.store.allow_mmap", "value": "false"},
                {"name": "OPENSEARCH_JAVA_OPTS", "value": f"-Xms{heap}m -Xmx{heap}m"},
                {"name": "DISABLE_INSTALL_DEMO_CONFIG", "value": "true"},
                {"name": "DISABLE_SECURITY_PLUGIN", "value": "true"},
            ]
            if spec.replicas == 1:
                env.append({"name": "discovery.type", "value": "single-node"})
            else:
                members = ",".join(f"{ds.name}-{i}" for i in range(spec.replicas))
                env += [
                    {"name": "discovery.seed_hosts", "value": headless},
                    {"name": "cluster.initial_cluster_manager_nodes", "value": members},
                ]
            mounts.append(
                {"name": "logs", "mountPath": "/usr/share/opensearch/logs"},
            )
            command = None
            args = None
            readiness = _http_probe("/_cluster/health?local=true", 10, 3)
            liveness = _tcp_probe(10, 6)
    container: dict[str, Any] = {
        "name": spec.engine.value,
        "image": f"{profile.image}:{spec.version}",
        "imagePullPolicy": "IfNotPresent",
        "ports": ports,
        "env": env,
        "volumeMounts": mounts,
        "startupProbe": _tcp_probe(5, 60),
        "readinessProbe": readiness,
        "livenessProbe": liveness,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": profile.uid,
            "runAsGroup": profile.uid,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": profile.read_only_root_fs,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if command is not None:
        container["command"] = command
    if args is not None:
        container["args"] = args
    if spec.resources.as_dict():
        container["resources"] = spec.resources.as_dict()
    return container


def _keyfile_init_container(ds: Datastore) -> dict[str, Any]:
    """mongod refuses a group-readable keyfile, and fsGroup makes Secret files group-readable:
    copy it into an emptyDir with mode 0400 owned by the mongod user."""
    profile = ENGINES[Engine.MONGODB]
    return {
        "name": "keyfile",
        "image": f"{profile.image}:{ds.spec.version}",
        "command": [
            "sh",
            "-c",
            "cp /secret/keyfile /etc/mongodb-keyfile/keyfile && "
            "chmod 0400 /etc/mongodb-keyfile/keyfile",
        ],
        "volumeMounts": [
            {"name": "keyfile-secret", "mountPath": "/secret", "readOnly": True},
            {"name": "keyfile", "mountPath": "/etc/mongodb-keyfile"},
        ],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": profile.uid,
            "runAsGroup": profile.uid,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def build_statefulset(ds: Datastore) -> Manifest:
    spec = ds.spec
    profile = ENGINES[spec.engine]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    init_containers: list[dict[str, Any]] = []
    if spec.engine is Engine.MONGODB:
        volumes += [
            {
                "name": "keyfile-secret",
                "secret": {
                    "secretName": secret_name(ds.name),
                    "items": [{"key": SECRET_KEY_KEYFILE, "path": "keyfile"}],
                    "defaultMode": 0o400,
                },
            },
            {"name": "keyfile", "emptyDir": {"medium": "Memory"}},
            {"name": "configdb", "emptyDir": {}},
        ]
        init_containers.append(_keyfile_init_container(ds))
    if spec.engine is Engine.OPENSEARCH:
        volumes.append({"name": "logs", "emptyDir": {}})

    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": spec.storage_size}},
    }
    if spec.storage_class:
        claim_spec["storageClassName"] = spec.storage_class
    delete_data = spec.deletion_policy is DeletionPolicy.DELETE

    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "fsGroup": profile.uid,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # Spread members over nodes and zones so one node drain or zone loss takes one member.
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": member_labels(ds)},
            }
            for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone")
        ],
        "terminationGracePeriodSeconds": 60,
        "containers": [_engine_container(ds)],
        "volumes": volumes,
    }
    if init_containers:
        pod_spec["initContainers"] = init_containers

    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _metadata(ds, ds.name),
        "spec": {
            "serviceName": headless_name(ds.name),
            "replicas": spec.replicas,
            "podManagementPolicy": "Parallel"
            if spec.engine is Engine.OPENSEARCH
            else "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate"},
            "minReadySeconds": 10,
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Delete" if delete_data else "Retain",
                "whenScaled": "Retain",
            },
            "selector": {"matchLabels": selector_labels(ds)},
            "template": {"metadata": {"labels": labels(ds)}, "spec": pod_spec},
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": DATA_VOLUME, "labels": selector_labels(ds)},
                    "spec": claim_spec,
                }
            ],
        },
    }


def mongodb_members(ds: Datastore) -> list[str]:
    headless = f"{headless_name(ds.name)}.{ds.namespace}.svc"
    port = ENGINES[Engine.MONGODB].port
    return [f"{ds.name}-{i}.{headless}:{port}" for i in range(ds.spec.replicas)]


_RS_SCRIPT = """
const members = JSON.parse(process.env.MEMBERS).map((host, i) => ({_id: i, host}));
let status;
try { status = rs.status(); } catch (e) {
  if (e.codeName !== 'NotYetInitialized') throw e;
  rs.initiate({_id: process.env.REPLICA_SET, members});
  print('initiated');
  quit(0);
}
const config = rs.conf();
const current = config.members.map((m) => m.host).sort().join(',');
if (current !== members.map((m) => m.host).sort().join(',')) {
  config.members = members;
  config.version += 1;
  rs.reconfig(config);
  print('reconfigured');
}
"""


def build_mongodb_replicaset_job(ds: Datastore) -> Manifest:
    """A Job that initiates the replica set, or reconfigures its members after a scale. The name
    carries a hash of the member list: a new membership gets a new Job, a repeat is a no-op."""
    members = mongodb_members(ds)
    digest = hashlib.sha256(json.dumps(members).encode()).hexdigest()[:10]
    profile = ENGINES[Engine.MONGODB]
    seed = members[0]
    script = (
        'exec mongosh --quiet "mongodb://$USERNAME:$PASSWORD@'
        f'{seed}/admin?directConnection=true&authSource=admin" --eval "$SCRIPT"'
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(ds, f"{ds.name}-rs-{digest}"),
        "spec": {
            "backoffLimit": 20,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": {**labels(ds), LABEL_COMPONENT: "datastore-config"}},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "configure",
                            "image": f"{profile.image}:{ds.spec.version}",
                            "command": ["sh", "-c", script],
                            "env": [
                                {"name": "USERNAME", "value": profile.username},
                                _secret_env(ds, "PASSWORD", SECRET_KEY_PASSWORD),
                                {"name": "MEMBERS", "value": json.dumps(members)},
                                {"name": "REPLICA_SET", "value": MONGODB_REPLICA_SET},
                                {"name": "SCRIPT", "value": _RS_SCRIPT},
                                # mongosh keeps its history and logs under $HOME.
                                {"name": "HOME", "value": "/tmp"},
                            ],
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                            "resources": {
                                "requests": {"cpu": "50m", "memory": "64Mi"},
                                "limits": {"memory": "256Mi"},
                            },
                            "securityContext": {
                                "runAsNonRoot": True,
                                "runAsUser": profile.uid,
                                "runAsGroup": profile.uid,
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def build_children(ds: Datastore, credentials: Credentials) -> list[Manifest]:
    """Everything one Datastore owns, in the order it should be applied (Secret first: the pods
    mount it)."""
    children = [
        build_secret(ds, credentials),
        build_headless_service(ds),
        build_service(ds),
        build_pdb(ds),
        build_statefulset(ds),
    ]
    if ds.spec.engine is Engine.MONGODB:
        children.append(build_mongodb_replicaset_job(ds))
    return children


def update_patch(manifest: Mapping[str, Any]) -> Manifest | None:
    """The merge patch that brings an existing child to `manifest`, limited to mutable fields;
    None for kinds never changed once created (a Job's template is immutable). The owner
    reference is restored too: a Secret released by a Retain deletion is adopted again."""
    kind = manifest["kind"]
    metadata = manifest["metadata"]
    patch: Manifest = {
        "metadata": {
            "labels": dict(metadata["labels"]),
            "ownerReferences": metadata["ownerReferences"],
        }
    }
    if kind == "Secret":
        patch["metadata"]["labels"][LABEL_RETAINED] = None
        patch["data"] = manifest["data"]
        return patch
    fields = MUTABLE_SPEC_FIELDS.get(kind)
    if fields is None:
        return None
    spec = manifest.get("spec", {})
    patch["spec"] = {key: spec[key] for key in fields if key in spec}
    return patch
