"""OpenTelemetry tracing: provider, optional OTLP/HTTP export, library instrumentation.

``setup_tracing(settings)`` installs a global ``TracerProvider`` (resource
``service.name=emporium-<service>``) and instruments httpx, pymongo and redis once per
process. Spans are exported over OTLP/HTTP only when ``settings.otlp_endpoint`` is set;
otherwise spans are still created (so logs carry trace/span ids and trace context still
propagates through HTTP and event headers) but go nowhere.

Coverage:
- FastAPI: :func:`instrument_app` (server spans; health and metrics routes excluded).
- httpx: every client, sync and async (``HTTPXClientInstrumentor``).
- redis: ``redis.asyncio`` clients and pipelines are patched by ``RedisInstrumentor``.
- pymongo: ``PymongoInstrumentor`` registers a global command listener; pymongo publishes
  command events from ``AsyncMongoClient`` too, so each async command gets a CLIENT span
  parented on the span current in the calling task. Not covered: connection-pool and
  server-selection time (no command event), and the span is not made current.
"""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from emporium_kit.settings import ServiceSettings

_EXCLUDED_URLS = "livez,readyz,metrics"


def setup_tracing(settings: ServiceSettings) -> TracerProvider:
    """Install (once) and return the process's tracer provider."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": f"emporium-{settings.service_name}",
                "service.namespace": "emporium",
                "deployment.environment": settings.environment,
            }
        )
    )
    if settings.otlp_endpoint:
        endpoint = settings.otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    for instrumentor in (HTTPXClientInstrumentor(), PymongoInstrumentor(), RedisInstrumentor()):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)
    return provider


def instrument_app(app: FastAPI, provider: TracerProvider | None = None) -> None:
    """Server spans for every request of ``app`` except health and metrics.

    Without the ASGI ``receive``/``send`` child spans: three or more per request that only
    repeat the server span's timing, and cost the hot path a span each."""
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=_EXCLUDED_URLS,
        exclude_spans=["receive", "send"],
    )


def shutdown_tracing(provider: TracerProvider) -> None:
    """Flush pending spans; call at process exit."""
    provider.force_flush(timeout_millis=2000)
