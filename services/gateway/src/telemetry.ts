// OpenTelemetry for the gateway: spans exported over OTLP/HTTP only when an endpoint is set (the
// same rule as the Python services), W3C traceparent injected into every subgraph request so a
// trace spans gateway and subgraphs.
import { openTelemetrySetup } from '@graphql-hive/plugin-opentelemetry/setup';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { Settings } from './settings.ts';

/** `EMPORIUM_OTLP_ENDPOINT` is the collector's base URL, as for the Python services. */
export function tracesUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  return base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
}

/** Register the tracer provider; returns whether tracing is on. */
export function setupTracing(settings: Settings): boolean {
  if (!settings.otlpEndpoint) return false;
  openTelemetrySetup({
    contextManager: new AsyncLocalStorageContextManager(),
    resource: { serviceName: 'emporium-gateway' },
    traces: { exporter: new OTLPTraceExporter({ url: tracesUrl(settings.otlpEndpoint) }) },
  });
  return true;
}
