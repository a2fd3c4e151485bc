"""What the operator does for each event; `main` only wires these to kopf.

Every handler is idempotent: kopf may run it again after a crash, a retry or a resume.
"""

import base64
import datetime
import logging
import secrets
from collections.abc import Mapping
from typing import Any

import kopf

from emporium_operator import kube
from emporium_operator.builders import (
    Credentials,
    Datastore,
    build_children,
    secret_name,
)
from emporium_operator.constants import (
    LABEL_DATASTORE,
    SECRET_KEY_KEYFILE,
    SECRET_KEY_PASSWORD,
    DeletionPolicy,
)
from emporium_operator.spec import InvalidSpecError, check_transition, parse_spec
from emporium_operator.status import Observed, compute_status, invalid_spec_status

FAILED_PHASE = "Failed"


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).isoformat(timespec="seconds")


def _datastore(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Datastore:
    return Datastore(
        name=meta["name"],
        namespace=meta["namespace"],
        uid=meta["uid"],
        spec=parse_spec(spec),
    )


def _decode(secret: Mapping[str, Any], key: str) -> str | None:
    value = (secret.get("data") or {}).get(key)
    return base64.b64decode(value).decode() if value else None


async def _credentials(api: Any, name: str, namespace: str) -> Credentials:
    """Reuse what the Secret holds (possibly retained from an earlier Datastore of this name),
    generate only what is missing: rotating a password would lock the services out."""
    secret = await kube.read(api, "Secret", "v1", secret_name(name), namespace) or {}
    return Credentials(
        password=_decode(secret, SECRET_KEY_PASSWORD) or secrets.token_urlsafe(24),
        # mongod wants 6..1024 base64 characters shared by every replica set member.
        keyfile=_decode(secret, SECRET_KEY_KEYFILE) or secrets.token_urlsafe(96),
    )


def _refuse(
    message: str, *, patch: kopf.Patch, status: Mapping[str, Any], generation: int | None
) -> kopf.PermanentError:
    patch.status.update(
        invalid_spec_status(message, previous_conditions=status.get("conditions") or [], now=_now())
    )
    patch.status["observedGeneration"] = generation
    return kopf.PermanentError(message)


async def reconcile(
    *,
    meta: Mapping[str, Any],
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    patch: kopf.Patch,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    """Create or update every child of the Datastore to match its spec."""
    generation = meta.get("generation")
    try:
        ds = _datastore(meta, spec)
        if old and old.get("spec"):
            try:
                previous = parse_spec(old["spec"])
            except InvalidSpecError:
                previous = None  # the old spec was never applied: nothing to protect
            if previous is not None:
                check_transition(previous, ds.spec, running_version=status.get("version"))
    except InvalidSpecError as exc:
        raise _refuse(str(exc), patch=patch, status=status, generation=generation) from exc

    api = await kube.client()
    credentials = await _credentials(api, ds.name, ds.namespace)
    actions = {}
    for child in build_children(ds, credentials):
        key = f"{child['kind']}/{child['metadata']['name']}"
        actions[key] = await kube.ensure(api, child)
    logger.info("Reconciled %s %s: %s", ds.spec.engine, ds.spec.version, actions)

    patch.status["observedGeneration"] = generation
    patch.status["secretName"] = secret_name(ds.name)
    patch.status["engine"] = ds.spec.engine.value
    patch.status["version"] = ds.spec.version
    # The phase comes from the StatefulSet as just written: a change it has not rolled out yet
    # is Provisioning in the same write that reports this generation as observed, so nobody
    # waiting for Ready at this generation is told so before the members run it.
    sts = await kube.read(api, "StatefulSet", "apps/v1", ds.name, ds.namespace)
    patch.status.update(
        compute_status(
            Observed.from_statefulset(sts or {"spec": {"replicas": ds.spec.replicas}}),
            previous_conditions=status.get("conditions") or [],
            ready_generation=status.get("readyGeneration"),
            now=_now(),
        )
    )


async def statefulset_changed(
    *,
    body: Mapping[str, Any],
    namespace: str,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    """Mirror a StatefulSet's progress into its Datastore's phase and conditions."""
    owner = (body.get("metadata", {}).get("labels") or {}).get(LABEL_DATASTORE)
    if not owner:
        return
    api = await kube.client()
    datastore = await kube.read(api, "Datastore", kube.DatastoreObject.version, owner, namespace)
    if datastore is None or datastore.get("metadata", {}).get("deletionTimestamp"):
        return
    # The event may be older than what `reconcile` already reported from a fresh read (a member
    # that was not ready yet): judge the StatefulSet as it is now, so the status never steps
    # back (Ready, then a spurious Degraded).
    statefulset = await kube.read(
        api, "StatefulSet", "apps/v1", body["metadata"]["name"], namespace
    )
    if statefulset is None:
        return
    current = datastore.get("status") or {}
    generation = datastore.get("metadata", {}).get("generation")
    if current.get("phase") == FAILED_PHASE and current.get("observedGeneration") == generation:
        return  # the spec is refused; the running members must not hide that
    new = compute_status(
        Observed.from_statefulset(statefulset),
        previous_conditions=current.get("conditions") or [],
        ready_generation=current.get("readyGeneration"),
        now=_now(),
    )
    if all(current.get(key) == value for key, value in new.items()):
        return
    await kube.patch_datastore_status(api, owner, namespace, new)
    logger.info("Datastore %s is %s (%s ready)", owner, new["phase"], new["readyReplicas"])


async def finalize(
    *,
    meta: Mapping[str, Any],
    spec: Mapping[str, Any],
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    """Honour the deletion policy before the finalizer is removed.

    Retain: the volume claims stay (the StatefulSet retains them) and the connection Secret is
    released from garbage collection, so a new Datastore of the same name finds data and
    credentials. Delete: the claims are deleted here as well as by the StatefulSet's retention
    policy, which older clusters ignore.
    """
    name, namespace = meta["name"], meta["namespace"]
    policy = DeletionPolicy(spec.get("deletionPolicy", DeletionPolicy.RETAIN))
    api = await kube.client()
    if policy is DeletionPolicy.RETAIN:
        await kube.release_secret(api, secret_name(name), namespace)
        logger.info("Retained the data and Secret of %s", name)
        return
    # Only our own label: deletion must work even for a spec that never passed validation.
    deleted = await kube.delete_claims(api, namespace, {LABEL_DATASTORE: name})
    logger.info("Deleted the volume claims of %s: %s", name, deleted)
