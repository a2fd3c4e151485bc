"""Names shared by the operator, its CRD, its chart and the umbrella chart: change them together."""

from dataclasses import dataclass
from enum import StrEnum

GROUP = "emporium.io"
VERSION = "v1alpha1"
PLURAL = "datastores"
KIND = "Datastore"
API_VERSION = f"{GROUP}/{VERSION}"

OPERATOR_NAME = "emporium-datastore-operator"
# Our own finalizer and progress annotations, so nothing on the resource is named after kopf.
FINALIZER = f"{GROUP}/datastore-protection"
ANNOTATIONS_PREFIX = f"datastore.{GROUP}"

# Recommended Kubernetes labels plus two of our own that the chart's NetworkPolicies select on.
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_DATASTORE = f"{GROUP}/datastore"
LABEL_ENGINE = f"{GROUP}/engine"
LABEL_RETAINED = f"{GROUP}/retained"
PART_OF = "emporium"

# Keys of the connection Secret `<name>-connection`; services read `url` only.
SECRET_SUFFIX = "-connection"
SECRET_KEY_URL = "url"
SECRET_KEY_USERNAME = "username"
SECRET_KEY_PASSWORD = "password"
SECRET_KEY_HOST = "host"
SECRET_KEY_PORT = "port"
SECRET_KEY_KEYFILE = "keyfile"

HEADLESS_SUFFIX = "-headless"
DATA_VOLUME = "data"
MONGODB_REPLICA_SET = "rs0"


class Engine(StrEnum):
    MONGODB = "mongodb"
    REDIS = "redis"
    OPENSEARCH = "opensearch"


class DeletionPolicy(StrEnum):
    RETAIN = "Retain"
    DELETE = "Delete"


class Condition(StrEnum):
    READY = "Ready"
    PROVISIONING = "Provisioning"
    DEGRADED = "Degraded"


@dataclass(frozen=True)
class EngineProfile:
    image: str
    port: int
    data_path: str
    # The uid the upstream image runs as; fsGroup makes the volume writable for it.
    uid: int
    # Oldest major version we know how to run; older ones are refused as a permanent error.
    min_major: int
    # Replica counts with an even number of voting members cannot keep quorum through one loss.
    odd_replicas_only: bool
    username: str | None
    # OpenSearch writes its keystore and plugin state under its install dir at start-up.
    read_only_root_fs: bool


ENGINES: dict[Engine, EngineProfile] = {
    Engine.MONGODB: EngineProfile(
        image="docker.io/library/mongo",
        port=27017,
        data_path="/data/db",
        uid=999,
        min_major=6,
        odd_replicas_only=True,
        username="root",
        read_only_root_fs=True,
    ),
    Engine.REDIS: EngineProfile(
        image="docker.io/library/redis",
        port=6379,
        data_path="/data",
        uid=999,
        min_major=7,
        odd_replicas_only=False,
        username="default",
        read_only_root_fs=True,
    ),
    Engine.OPENSEARCH: EngineProfile(
        image="docker.io/opensearchproject/opensearch",
        port=9200,
        data_path="/usr/share/opensearch/data",
        uid=1000,
        min_major=2,
        odd_replicas_only=True,
        username=None,
        read_only_root_fs=False,
    ),
}

OPENSEARCH_TRANSPORT_PORT = 9300
MAX_REPLICAS = 7
