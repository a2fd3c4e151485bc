#!/usr/bin/env node
// Builds the one persisted-operation manifest every client's requests are checked against,
// from two kinds of source:
//   - operations/*.graphql: each file holds one operation (plus the fragments it spreads); its
//     id is the sha256 of the printed (canonical) document;
//   - the manifests of the client apps listed in persisted-clients.json (the storefront's is
//     written by GraphQL Code Generator): `{ "<sha256 of body>": "<body>" }`, taken as they
//     are, since each client sends the ids its own build computed.
// Every operation is validated against the public API of the composed supergraph, so a schema
// change that breaks a persisted operation fails here, and operation names are unique across
// all sources.
//
//   node persisted.mjs [--supergraph supergraph.graphql] [--operations 'operations/*.graphql']
//                      [--clients persisted-clients.json] [--out persisted-operations.json]
//                      [--check]
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { transformSupergraphToPublicSchema } from '@theguild/federation-composition';
import { Kind, buildASTSchema, parse, print, validate } from 'graphql';
import { matchFiles, writeOrCheck } from './lib/files.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The client-facing schema of a supergraph SDL (federation machinery removed). */
export function publicSchema(supergraphSdl) {
  return buildASTSchema(transformSupergraphToPublicSchema(parse(supergraphSdl)));
}

/** Parse and validate one operation file; returns the manifest entry or a list of problems. */
export function buildEntry(schema, file, source) {
  return validatedEntry(schema, path.relative(process.cwd(), file), source, print);
}

/**
 * Parse and validate one document; `printBody` turns the parsed document into the body whose
 * sha256 is the id. Returns `{entry}` or `{problems}`.
 */
function validatedEntry(schema, where, source, printBody) {
  let document;
  try {
    document = parse(source);
  } catch (error) {
    return { problems: [`${where}: ${error.message}`] };
  }
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1 || !operations[0].name) {
    return { problems: [`${where}: must hold exactly one named operation`] };
  }
  const errors = validate(schema, document);
  if (errors.length > 0) return { problems: errors.map((e) => `${where}: ${e.message}`) };
  const body = printBody(document);
  return {
    entry: {
      id: sha256(body),
      name: operations[0].name.value,
      type: operations[0].operation,
      body,
    },
  };
}

/**
 * The entries of one client's manifest (`{id: body}`): each body must be valid against the
 * schema and hash to its id, since the client sends that id.
 */
export function clientEntries(schema, clientName, manifest) {
  const problems = [];
  const entries = [];
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) {
    return { entries, problems: [`${clientName}: the manifest must map ids to documents`] };
  }
  for (const [id, body] of Object.entries(manifest)) {
    const where = `${clientName} ${id}`;
    if (typeof body !== 'string') {
      problems.push(`${where}: the document must be a string`);
      continue;
    }
    if (sha256(body) !== id) {
      problems.push(`${where}: the id is not the sha256 of the document`);
      continue;
    }
    const result = validatedEntry(schema, where, body, () => body);
    if (result.problems) problems.push(...result.problems);
    else entries.push({ ...result.entry, source: clientName });
  }
  return { entries, problems };
}

/** Read persisted-clients.json: `[{name, manifest}]` with manifest paths resolved. */
async function loadClients(file) {
  let config;
  try {
    config = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    if (error.code === 'ENOENT') return [];
    throw error;
  }
  return (config.clients ?? []).map(({ name, manifest }) => ({
    name,
    manifest: path.resolve(path.dirname(file), manifest),
  }));
}

function sha256(text) {
  return createHash('sha256').update(text).digest('hex');
}

async function main() {
  const { values } = parseArgs({
    options: {
      supergraph: { type: 'string', default: path.join(here, 'supergraph.graphql') },
      operations: { type: 'string', default: path.join(here, 'operations', '*.graphql') },
      clients: { type: 'string', default: path.join(here, 'persisted-clients.json') },
      out: { type: 'string', default: path.join(here, 'persisted-operations.json') },
      check: { type: 'boolean', default: false },
    },
  });
  const schema = publicSchema(await readFile(path.resolve(values.supergraph), 'utf8'));
  const files = await matchFiles(process.cwd(), path.resolve(values.operations));
  const problems = [];
  const candidates = [];
  for (const file of files) {
    const result = buildEntry(schema, file, await readFile(file, 'utf8'));
    if (result.problems) problems.push(...result.problems);
    else candidates.push({ ...result.entry, source: path.relative(process.cwd(), file) });
  }
  for (const client of await loadClients(path.resolve(values.clients))) {
    let manifest;
    try {
      manifest = JSON.parse(await readFile(client.manifest, 'utf8'));
    } catch (error) {
      problems.push(`${client.name}: cannot read ${client.manifest}: ${error.message}`);
      continue;
    }
    const result = clientEntries(schema, client.name, manifest);
    problems.push(...result.problems);
    candidates.push(...result.entries);
  }
  const operations = [];
  const sources = new Map();
  for (const { source, ...entry } of candidates) {
    if (sources.has(entry.name)) {
      problems.push(
        `operation name ${entry.name} is used twice (${sources.get(entry.name)}, ${source})`,
      );
      continue;
    }
    sources.set(entry.name, source);
    operations.push(entry);
  }
  if (problems.length > 0) {
    console.error(`Persisted operations FAILED (${problems.length} problem(s)):`);
    for (const problem of problems) console.error(`  - ${problem}`);
    process.exitCode = 1;
    return;
  }
  operations.sort((a, b) => a.name.localeCompare(b.name));
  const manifest = { format: 'apollo-persisted-query-manifest', version: 1, operations };
  const ok = await writeOrCheck(
    path.resolve(values.out),
    `${JSON.stringify(manifest, null, 2)}\n`,
    {
      check: values.check,
      label: 'persisted',
      fixCommand: 'npm run persisted',
    },
  );
  if (!ok) {
    process.exitCode = 1;
    return;
  }
  console.log(
    `${values.check ? 'Up to date' : 'Wrote'}: ${operations.length} persisted operation(s)`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
