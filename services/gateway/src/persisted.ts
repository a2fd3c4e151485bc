// The persisted-operation manifest (Apollo's persisted query manifest format), written by
// persisted.mjs from operations/*.graphql: clients send an id instead of the document.
import { readFileSync } from 'node:fs';

interface Manifest {
  format: string;
  version: number;
  operations: { id: string; name: string; type: string; body: string }[];
}

/** Map of operation id (sha256 of the body) to the document body. */
export function loadPersistedOperations(file: string): Map<string, string> {
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  if (manifest.format !== 'apollo-persisted-query-manifest' || manifest.version !== 1) {
    throw new Error(`${file}: not an apollo-persisted-query-manifest version 1`);
  }
  return new Map(manifest.operations.map((operation) => [operation.id, operation.body]));
}
