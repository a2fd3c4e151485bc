"""Prometheus metrics: ``/metrics`` for the app plus namespaced metric helpers.

``instrument_metrics(app)`` adds HTTP request metrics (prometheus-fastapi-instrumentator)
and exposes ``/metrics``. ``counter``/``histogram``/``gauge`` create metrics named
``emporium_<name>`` in the default registry and return the existing one when called again
with the same name (apps are built more than once in tests)::

    PRODUCTS_CREATED = counter("catalog_products_created_total", "Products created")
    CACHE_LOOKUPS = counter("catalog_cache_lookups_total", "Cache lookups", ["result"])
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, TypeVar

from fastapi import FastAPI
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from prometheus_fastapi_instrumentator import Instrumentator, metrics

NAMESPACE = "emporium"

M = TypeVar("M", bound=MetricWrapperBase)

_lock = threading.Lock()
_created: dict[str, MetricWrapperBase] = {}


def _get_or_create(kind: type[M], name: str, doc: str, labels: Sequence[str], **kw: Any) -> M:
    full = f"{NAMESPACE}_{name}"
    with _lock:
        existing = _created.get(full)
        if existing is not None:
            if not isinstance(existing, kind):
                raise ValueError(f"metric {full} already exists as {type(existing).__name__}")
            return existing
        metric = kind(name, doc, labelnames=tuple(labels), namespace=NAMESPACE, **kw)
        _created[full] = metric
        return metric


def counter(name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
    return _get_or_create(Counter, name, doc, labels)


def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
    return _get_or_create(Gauge, name, doc, labels)


def histogram(
    name: str,
    doc: str,
    labels: Sequence[str] = (),
    buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS,
) -> Histogram:
    return _get_or_create(Histogram, name, doc, labels, buckets=tuple(buckets))


DEPENDENCY_UP = gauge(
    "dependency_up", "1 if the dependency answered its last readiness probe", ["dependency"]
)
BREAKER_OPEN = gauge(
    "breaker_open", "1 while the dependency's circuit breaker is open", ["dependency"]
)


HTTP_REQUESTS = counter(
    "http_requests_total", "HTTP requests by route template", ["method", "handler", "status"]
)
HTTP_LATENCY = histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "handler"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _record(info: metrics.Info) -> None:
    HTTP_REQUESTS.labels(info.method, info.modified_handler, info.modified_status).inc()
    HTTP_LATENCY.labels(info.method, info.modified_handler).observe(info.modified_duration)


def instrument_metrics(app: FastAPI) -> Instrumentator:
    """HTTP request metrics for ``app`` and a ``GET /metrics`` route (not in the schema).

    The instrumentator's default metrics are registered once per process and silently
    skipped for a second app (tests build many), so requests are recorded into the
    kit's own get-or-create metrics instead.
    """
    instrumentator = Instrumentator(
        excluded_handlers=["/metrics", "/livez", "/readyz"],
        should_group_status_codes=False,
        registry=REGISTRY,
    )
    instrumentator.add(_record)
    instrumentator.instrument(app).expose(app, include_in_schema=False, should_gzip=False)
    return instrumentator
