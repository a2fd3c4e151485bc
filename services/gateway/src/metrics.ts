// Prometheus metrics on a port of their own. The client port serves GraphQL and health checks
// only: metrics name subgraph URLs and operation names, which are not for clients, and a
// separate port lets the NetworkPolicy admit Prometheus to it and the ingress to GraphQL only.
import { createServer } from 'node:http';
import type { GatewayPlugin, Logger } from '@graphql-hive/gateway';
import type { Registry } from 'prom-client';

export interface MetricsServerOptions {
  registry: Registry;
  host: string;
  port: number;
  log: Logger;
}

/**
 * Serves `GET /metrics` from `registry` on `host:port` (anything else: 404) and closes with the
 * gateway. A port that cannot be bound stops the gateway: a replica without metrics would go
 * unnoticed until an alert that never fires.
 */
export function useMetricsServer({
  registry,
  host,
  port,
  log,
}: MetricsServerOptions): GatewayPlugin {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (body) => response.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (error: unknown) => {
        log.error({ reason: String(error) }, 'Collecting metrics failed');
        response.writeHead(500).end();
      },
    );
  });
  server.on('error', (error) => {
    log.error({ reason: error.message }, `Cannot serve metrics on ${host}:${port}`);
    process.exit(1);
  });
  server.listen(port, host, () => log.info(`Serving metrics on http://${host}:${port}/metrics`));
  return {
    onDispose: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
