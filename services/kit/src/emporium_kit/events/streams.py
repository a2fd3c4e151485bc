"""JetStream streams: one per domain (``EMPORIUM_<DOMAIN>``) plus the dead-letter stream."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import NotFoundError

from emporium_kit.events.envelope import DLQ_DOMAIN, DOMAIN_PATTERN, SUBJECT_ROOT

log = logging.getLogger(__name__)

DLQ_STREAM = "EMPORIUM_DLQ"
DLQ_SUBJECTS = f"{SUBJECT_ROOT}.{DLQ_DOMAIN}.>"

DEFAULT_DUPLICATE_WINDOW_S = 120.0
DEFAULT_MAX_AGE_S = 7 * 24 * 3600.0
DEFAULT_DLQ_MAX_AGE_S = 30 * 24 * 3600.0


class StreamConfigError(RuntimeError):
    """A stream exists with a setting JetStream cannot change in place (e.g. storage)."""


def stream_name(domain: str) -> str:
    return f"EMPORIUM_{domain.upper()}"


def domain_subjects(domain: str) -> str:
    return f"{SUBJECT_ROOT}.{domain}.>"


def domain_stream_config(
    domain: str,
    *,
    duplicate_window_s: float = DEFAULT_DUPLICATE_WINDOW_S,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    replicas: int = 1,
) -> StreamConfig:
    if not DOMAIN_PATTERN.match(domain) or domain == DLQ_DOMAIN:
        raise ValueError(f"invalid event domain {domain!r}")
    return StreamConfig(
        name=stream_name(domain),
        description=f"Emporium {domain} domain events",
        subjects=[domain_subjects(domain)],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=max_age_s,
        duplicate_window=duplicate_window_s,
        num_replicas=replicas,
    )


def dlq_stream_config(
    *,
    duplicate_window_s: float = DEFAULT_DUPLICATE_WINDOW_S,
    max_age_s: float = DEFAULT_DLQ_MAX_AGE_S,
    replicas: int = 1,
) -> StreamConfig:
    return StreamConfig(
        name=DLQ_STREAM,
        description="Emporium dead letters: emporium.dlq.<consumer>.<domain>.<EventName>",
        subjects=[DLQ_SUBJECTS],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=max_age_s,
        duplicate_window=duplicate_window_s,
        num_replicas=replicas,
    )


DRIFT_FIELDS = ("subjects", "retention", "discard", "max_age", "duplicate_window", "num_replicas")


@dataclass(frozen=True)
class StreamPlan:
    """What :func:`ensure_stream` does with an existing stream.

    ``update`` is the configuration to apply (``None``: nothing drifted), ``drifted`` the
    settings it repairs, and ``kept_replicas`` the stream's replica count when it has more
    than asked for and keeps them.
    """

    update: StreamConfig | None
    drifted: tuple[str, ...] = ()
    kept_replicas: int | None = None


def _replicas(config: StreamConfig) -> int:
    return config.num_replicas or 1


def _setting(config: StreamConfig, name: str) -> object:
    return _replicas(config) if name == "num_replicas" else getattr(config, name)


def plan_stream(current: StreamConfig, wanted: StreamConfig) -> StreamPlan:
    """Decide how to bring ``current`` to ``wanted`` without ever lowering its replicas.

    A stream with more replicas than asked keeps them: an operator may have scaled it up,
    and a service started with a smaller setting (a default, a mistaken value) must not
    silently drop copies of every event. A stream with fewer is scaled up.
    """
    kept = None
    if _replicas(current) > _replicas(wanted):
        kept = _replicas(current)
        wanted = dataclasses.replace(wanted, num_replicas=kept)
    drifted = tuple(f for f in DRIFT_FIELDS if _setting(current, f) != _setting(wanted, f))
    return StreamPlan(wanted if drifted else None, drifted, kept)


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> StreamInfo:
    """Create the stream, or update it when its settings drifted; idempotent. It never
    lowers the stream's replica count (:func:`plan_stream`)."""
    name = config.name or ""
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        log.info("creating stream %s with %d replica(s)", name, _replicas(config))
        return await js.add_stream(config)
    if info.config.storage != config.storage:
        raise StreamConfigError(
            f"stream {name} uses {info.config.storage} storage, wanted {config.storage}; "
            "storage cannot change in place: migrate the stream"
        )
    plan = plan_stream(info.config, config)
    if plan.kept_replicas is not None:
        log.info(
            "stream %s keeps its %d replicas (asked for %d): streams are never scaled down",
            name,
            plan.kept_replicas,
            _replicas(config),
        )
    if plan.update is None:
        return info
    log.warning("updating stream %s: %s drifted", name, ", ".join(plan.drifted))
    return await js.update_stream(plan.update)


async def ensure_streams(
    js: JetStreamContext,
    domains: Iterable[str],
    *,
    duplicate_window_s: float = DEFAULT_DUPLICATE_WINDOW_S,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    dlq_max_age_s: float = DEFAULT_DLQ_MAX_AGE_S,
    replicas: int = 1,
) -> dict[str, StreamInfo]:
    """Ensure ``EMPORIUM_<DOMAIN>`` for each domain and ``EMPORIUM_DLQ``; returns them by name.

    Every service's outbox and consumer workers call this at start-up for the domains they
    publish and consume (``EventCatalog.domains``), with ``replicas`` from the
    ``nats_stream_replicas`` setting, so start order between services does not matter.
    """
    configs = [
        domain_stream_config(
            d, duplicate_window_s=duplicate_window_s, max_age_s=max_age_s, replicas=replicas
        )
        for d in sorted(set(domains))
    ]
    configs.append(
        dlq_stream_config(
            duplicate_window_s=duplicate_window_s, max_age_s=dlq_max_age_s, replicas=replicas
        )
    )
    result: dict[str, StreamInfo] = {}
    for config in configs:
        info = await ensure_stream(js, config)
        result[info.config.name or ""] = info
    return result
