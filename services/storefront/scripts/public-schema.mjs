// The client-facing schema of the composed supergraph: exactly what the gateway serves and
// validates persisted operations against (services/gateway/persisted.mjs does the same).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transformSupergraphToPublicSchema } from '@theguild/federation-composition';
import { buildASTSchema, parse, printSchema } from 'graphql';

export const SUPERGRAPH_PATH = fileURLToPath(
  new URL('../../gateway/supergraph.graphql', import.meta.url),
);

/** The public schema's SDL. */
export function publicSchemaSdl(path = SUPERGRAPH_PATH) {
  const supergraph = parse(readFileSync(path, 'utf8'));
  return printSchema(buildASTSchema(transformSupergraphToPublicSchema(supergraph)));
}
