"""The operator's only I/O: a thin layer over kr8s that maps API failures to kopf's retry policy.

TemporaryError: the API server or network is unavailable, a write conflicted, or RBAC is missing
(an administrator can fix it; kopf retries later). PermanentError: the API server rejected an
object as invalid, which retrying cannot change.
"""

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import kopf
import kr8s
import kr8s.asyncio
from kr8s.asyncio.objects import APIObject, PersistentVolumeClaim, new_class, object_from_spec

from emporium_operator.builders import Manifest, update_patch
from emporium_operator.constants import GROUP, KIND, LABEL_RETAINED, PLURAL, VERSION

DatastoreObject = new_class(kind=KIND, version=f"{GROUP}/{VERSION}", plural=PLURAL)

RETRY_SOON = 10
RETRY_LATER = 60


@contextlib.asynccontextmanager
async def api_errors(action: str) -> AsyncIterator[None]:
    try:
        yield
    except kr8s.ServerError as exc:
        code = exc.response.status_code if exc.response is not None else None
        if code in (400, 422):
            raise kopf.PermanentError(f"{action}: rejected by the API server: {exc}") from exc
        delay = RETRY_LATER if code in (401, 403) else RETRY_SOON
        raise kopf.TemporaryError(f"{action}: HTTP {code}: {exc}", delay=delay) from exc
    except (httpx.TransportError, kr8s.APITimeoutError) as exc:
        raise kopf.TemporaryError(
            f"{action}: API server unreachable: {exc}", delay=RETRY_SOON
        ) from exc


async def client() -> kr8s.asyncio.Api:
    """In-cluster service account, or KUBECONFIG (tests point it at the emulator)."""
    async with api_errors("connecting to the API server"):
        return await kr8s.asyncio.api()


def _status_code(exc: kr8s.ServerError) -> int | None:
    return exc.response.status_code if exc.response is not None else None


async def ensure(api: kr8s.asyncio.Api, manifest: Manifest) -> str:
    """Create the object, or bring its mutable fields to the manifest. Returns what was done."""
    obj = object_from_spec(manifest, api=api)
    what = f"{manifest['kind']} {manifest['metadata']['name']}"
    async with api_errors(f"creating {what}"):
        try:
            await obj.create()
            return "created"
        except kr8s.ServerError as exc:
            if _status_code(exc) != 409:
                raise
    patch = update_patch(manifest)
    if patch is None:
        return "exists"
    async with api_errors(f"updating {what}"):
        await obj.patch(patch)
    return "updated"


async def read(
    api: kr8s.asyncio.Api, kind: str, api_version: str, name: str, namespace: str
) -> dict[str, Any] | None:
    obj: APIObject = object_from_spec(
        {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": name, "namespace": namespace},
        },
        api=api,
    )
    async with api_errors(f"reading {kind} {name}"):
        try:
            await obj.refresh()
        except kr8s.NotFoundError:
            return None
    return dict(obj.raw)


async def patch_datastore_status(
    api: kr8s.asyncio.Api, name: str, namespace: str, status: Mapping[str, Any]
) -> None:
    obj = DatastoreObject({"metadata": {"name": name, "namespace": namespace}}, api=api)
    async with api_errors(f"updating the status of {KIND} {name}"):
        try:
            await obj.patch({"status": dict(status)}, subresource="status")
        except kr8s.ServerError as exc:
            if _status_code(exc) != 404:  # deleted meanwhile: nothing left to report on
                raise


async def release_secret(api: kr8s.asyncio.Api, name: str, namespace: str) -> None:
    """Drop the owner reference so garbage collection keeps the Secret with the retained data."""
    obj = object_from_spec(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}},
        api=api,
    )
    patch = {"metadata": {"ownerReferences": None, "labels": {LABEL_RETAINED: "true"}}}
    async with api_errors(f"releasing Secret {name}"):
        try:
            await obj.patch(patch)
        except kr8s.ServerError as exc:
            if _status_code(exc) != 404:
                raise


async def delete_claims(
    api: kr8s.asyncio.Api, namespace: str, selector: Mapping[str, str]
) -> list[str]:
    """Delete the data volumes of a Datastore. Returns the names of the claims deleted."""
    deleted = []
    async with api_errors(f"deleting volume claims in {namespace}"):
        claims = api.get(PersistentVolumeClaim, namespace=namespace, label_selector=dict(selector))
        async for claim in claims:
            # kr8s types what it yields as APIObject | dict: a dict only with raw=True
            if not isinstance(claim, APIObject):
                raise TypeError(f"expected a PersistentVolumeClaim, got {type(claim).__name__}")
            claim_labels = claim.metadata.get("labels") or {}
            # Re-check the selector: a claim we do not own must never be deleted.
            if any(claim_labels.get(k) != v for k, v in selector.items()):
                continue
            try:
                await claim.delete()
            except kr8s.NotFoundError:
                continue
            deleted.append(claim.name)
    return deleted
