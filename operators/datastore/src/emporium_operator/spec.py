"""The Datastore spec as a validated value: everything the builders need, nothing they must check.

The CRD's OpenAPI schema rejects most bad input at admission; these checks repeat the rules that
matter for safety (an older CRD may be installed) and add the ones a schema cannot express.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from emporium_operator.constants import ENGINES, MAX_REPLICAS, DeletionPolicy, Engine

_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


class InvalidSpecError(ValueError):
    """The spec can never be reconciled as written; retrying will not help."""


@dataclass(frozen=True)
class Resources:
    requests: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {k: dict(v) for k, v in (("requests", self.requests), ("limits", self.limits)) if v}


@dataclass(frozen=True)
class DatastoreSpec:
    engine: Engine
    version: str
    replicas: int
    storage_size: str
    storage_class: str | None
    resources: Resources
    deletion_policy: DeletionPolicy

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return version_tuple(self.version)


def version_tuple(version: str) -> tuple[int, ...]:
    match = _VERSION.match(version)
    if match is None:
        raise InvalidSpecError(f"version {version!r} is not MAJOR.MINOR or MAJOR.MINOR.PATCH")
    return tuple(int(part) for part in match.groups() if part is not None)


def quantity_bytes(quantity: str) -> int:
    """Bytes of a Kubernetes memory/storage quantity (the subset of suffixes we accept)."""
    match = _QUANTITY.match(quantity)
    if match is None:
        raise InvalidSpecError(f"quantity {quantity!r} is not a number with Ki/Mi/Gi/Ti/k/M/G/T")
    number, suffix = match.groups()
    scale = _BINARY.get(suffix or "") or _DECIMAL.get(suffix or "") or 1
    return int(float(number) * scale)


def parse_spec(spec: Mapping[str, Any]) -> DatastoreSpec:
    """Validate a Datastore `spec` and return it with defaults applied."""
    try:
        engine = Engine(spec.get("engine", ""))
    except ValueError:
        known = ", ".join(e.value for e in Engine)
        raise InvalidSpecError(f"engine {spec.get('engine')!r} is not one of {known}") from None
    profile = ENGINES[engine]

    version = str(spec.get("version", ""))
    if version_tuple(version)[0] < profile.min_major:
        raise InvalidSpecError(f"{engine} {version} is too old; {profile.min_major}.x or newer")

    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise InvalidSpecError(f"replicas {replicas!r} is not an integer")
    if not 1 <= replicas <= MAX_REPLICAS:
        raise InvalidSpecError(f"replicas {replicas} is outside 1..{MAX_REPLICAS}")
    if profile.odd_replicas_only and replicas % 2 == 0:
        raise InvalidSpecError(f"{engine} needs an odd number of replicas to keep a quorum")

    storage = spec.get("storage") or {}
    size = str(storage.get("size", "10Gi"))
    if quantity_bytes(size) <= 0:
        raise InvalidSpecError("storage.size must be positive")

    raw_resources = spec.get("resources") or {}
    resources = Resources(
        requests={k: str(v) for k, v in (raw_resources.get("requests") or {}).items()},
        limits={k: str(v) for k, v in (raw_resources.get("limits") or {}).items()},
    )
    request, limit = resources.requests.get("memory"), resources.limits.get("memory")
    if request and limit and quantity_bytes(limit) < quantity_bytes(request):
        raise InvalidSpecError(f"memory limit {limit} is below the request {request}")

    try:
        policy = DeletionPolicy(spec.get("deletionPolicy", DeletionPolicy.RETAIN))
    except ValueError:
        raise InvalidSpecError(
            f"deletionPolicy {spec.get('deletionPolicy')!r} is not Retain or Delete"
        ) from None

    return DatastoreSpec(
        engine=engine,
        version=version,
        replicas=replicas,
        storage_size=size,
        storage_class=storage.get("storageClassName"),
        resources=resources,
        deletion_policy=policy,
    )


def check_transition(
    old: DatastoreSpec, new: DatastoreSpec, *, running_version: str | None = None
) -> None:
    """Refuse the changes that would lose data or cannot be rolled out in place.

    `running_version` is the version last applied (from the status): after a refused change the
    previous spec is not what runs, so a downgrade is judged against what actually runs.
    """
    if old.engine != new.engine:
        raise InvalidSpecError(f"engine is immutable ({old.engine} -> {new.engine})")
    if (old.storage_size, old.storage_class) != (new.storage_size, new.storage_class):
        raise InvalidSpecError("storage is immutable; create a new Datastore and migrate")
    current = running_version or old.version
    if new.version_tuple < version_tuple(current):
        raise InvalidSpecError(f"downgrade {current} -> {new.version} is not supported")
