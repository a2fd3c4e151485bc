"""Pure status logic: a StatefulSet's observed state in, the Datastore's phase and conditions
out."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emporium_operator.constants import Condition


@dataclass(frozen=True)
class Observed:
    """What the StatefulSet controller reports, reduced to what decides our phase."""

    generation: int
    desired: int
    ready: int
    updated: int
    rolled_out: bool

    @classmethod
    def from_statefulset(cls, statefulset: Mapping[str, Any]) -> "Observed":
        spec = statefulset.get("spec") or {}
        status = statefulset.get("status") or {}
        generation = (statefulset.get("metadata") or {}).get("generation")
        desired = int(spec.get("replicas", 1))
        # A rollout is finished once the controller saw the latest template and every pod runs it.
        rolled_out = (
            (generation is None or status.get("observedGeneration") == generation)
            and status.get("currentRevision") == status.get("updateRevision")
            and int(status.get("updatedReplicas", 0)) >= desired
        )
        return cls(
            generation=int(generation or 0),
            desired=desired,
            ready=int(status.get("readyReplicas", 0)),
            updated=int(status.get("updatedReplicas", 0)),
            rolled_out=rolled_out,
        )


def _condition(  # noqa: PLR0917 - one call site per condition, positional reads best there
    kind: Condition,
    active: bool,
    reason: str,
    message: str,
    now: str,
    previous: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    status = "True" if active else "False"
    before = previous.get(kind.value)
    # lastTransitionTime moves only when the status flips, as Kubernetes conventions ask.
    since = before["lastTransitionTime"] if before and before.get("status") == status else now
    return {
        "type": kind.value,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
    }


def compute_status(
    observed: Observed,
    *,
    previous_conditions: Sequence[Mapping[str, Any]],
    ready_generation: int | None,
    now: str,
) -> dict[str, Any]:
    """Phase and conditions for the Datastore.

    `ready_generation` is the StatefulSet generation that was last seen fully ready.
    Ready: every desired member is ready and runs the current template.
    Provisioning: this generation (the first one, or a scale/version/resources change) has not
    been fully ready yet.
    Degraded: this generation was fully ready and has lost members since (a crash, a node loss).
    """
    previous = {c["type"]: c for c in previous_conditions if "type" in c}
    counts = f"{observed.ready}/{observed.desired} members ready"
    if observed.rolled_out and observed.ready >= observed.desired:
        phase, reason = Condition.READY, "AllMembersReady"
        ready_generation = observed.generation
    elif ready_generation == observed.generation:
        phase, reason = Condition.DEGRADED, "MembersUnavailable"
    else:
        phase = Condition.PROVISIONING
        reason = "Creating" if ready_generation is None else "RollingOut"
        counts = f"{counts}, {observed.updated}/{observed.desired} updated"

    conditions = [
        _condition(
            kind,
            phase is kind,
            reason if phase is kind else f"Not{kind.value}",
            counts,
            now,
            previous,
        )
        for kind in (Condition.READY, Condition.PROVISIONING, Condition.DEGRADED)
    ]
    return {
        "phase": phase.value,
        "replicas": observed.desired,
        "readyReplicas": observed.ready,
        "readyGeneration": ready_generation,
        "conditions": conditions,
    }


def invalid_spec_status(
    message: str, *, previous_conditions: Sequence[Mapping[str, Any]], now: str
) -> dict[str, Any]:
    """The Datastore cannot be reconciled until its spec is fixed."""
    previous = {c["type"]: c for c in previous_conditions if "type" in c}
    conditions = [
        _condition(kind, False, "InvalidSpec", message, now, previous)
        for kind in (Condition.READY, Condition.PROVISIONING)
    ]
    conditions.append(_condition(Condition.DEGRADED, True, "InvalidSpec", message, now, previous))
    return {"phase": "Failed", "conditions": conditions}
