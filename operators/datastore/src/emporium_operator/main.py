"""kopf wiring only: which events reach which handler. Run with
`kopf run --standalone --all-namespaces -m emporium_operator.main`."""

import logging
from typing import Any

import kopf

from emporium_operator import handlers
from emporium_operator.constants import (
    ANNOTATIONS_PREFIX,
    FINALIZER,
    GROUP,
    LABEL_MANAGED_BY,
    OPERATOR_NAME,
    PLURAL,
    VERSION,
)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATIONS_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATIONS_PREFIX, key="last-handled-configuration"
    )
    settings.posting.level = logging.INFO
    # Reconnect watches regularly: a silently dropped connection must not freeze the operator.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
async def reconcile(**kwargs: Any) -> None:
    await handlers.reconcile(
        meta=kwargs["meta"],
        spec=kwargs["spec"],
        status=kwargs["status"],
        old=kwargs.get("old"),
        patch=kwargs["patch"],
        logger=kwargs["logger"],
    )


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def finalize(**kwargs: Any) -> None:
    await handlers.finalize(meta=kwargs["meta"], spec=kwargs["spec"], logger=kwargs["logger"])


@kopf.on.event("apps", "v1", "statefulsets", labels={LABEL_MANAGED_BY: OPERATOR_NAME})
async def statefulset_changed(**kwargs: Any) -> None:
    await handlers.statefulset_changed(
        body=kwargs["body"], namespace=kwargs["namespace"], logger=kwargs["logger"]
    )
