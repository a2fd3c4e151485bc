"""W3C trace context in NATS message headers, so one trace spans publisher and consumer."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context

TRACER_NAME = "emporium_kit.events"

# Headers the propagators own; copied when an event is moved (dead letter, replay).
TRACE_HEADERS = ("traceparent", "tracestate", "baggage")


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def inject(headers: dict[str, str], context: Context | None = None) -> dict[str, str]:
    """Write the trace context (the current one by default) into ``headers``."""
    propagate.inject(headers, context=context)
    return headers


def extract(headers: Mapping[str, str] | None) -> Context:
    """The remote context carried by ``headers`` (an empty context when there is none)."""
    return propagate.extract(dict(headers or {}))


def current_headers() -> dict[str, str]:
    """The current trace context as headers, e.g. to store with an outbox entry."""
    return inject({})


def trace_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (headers or {}).items() if k.lower() in TRACE_HEADERS}
