#!/usr/bin/env node
// Builds the persisted-operation manifest from operations/*.graphql: each file holds one
// operation (plus the fragments it spreads). Every operation is validated against the public
// API of the composed supergraph, so a schema change that breaks a persisted operation fails
// here. Ids are the sha256 of the printed (canonical) document.
//
//   node persisted.mjs [--supergraph supergraph.graphql] [--operations 'operations/*.graphql']
//                      [--out persisted-operations.json] [--check]
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
  const where = path.relative(process.cwd(), file);
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
  const body = print(document);
  return {
    entry: {
      id: createHash('sha256').update(body).digest('hex'),
      name: operations[0].name.value,
      type: operations[0].operation,
      body,
    },
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      supergraph: { type: 'string', default: path.join(here, 'supergraph.graphql') },
      operations: { type: 'string', default: path.join(here, 'operations', '*.graphql') },
      out: { type: 'string', default: path.join(here, 'persisted-operations.json') },
      check: { type: 'boolean', default: false },
    },
  });
  const schema = publicSchema(await readFile(path.resolve(values.supergraph), 'utf8'));
  const files = await matchFiles(process.cwd(), path.resolve(values.operations));
  const problems = [];
  const operations = [];
  const names = new Set();
  for (const file of files) {
    const result = buildEntry(schema, file, await readFile(file, 'utf8'));
    if (result.problems) {
      problems.push(...result.problems);
    } else if (names.has(result.entry.name)) {
      problems.push(`${file}: operation name ${result.entry.name} is used twice`);
    } else {
      names.add(result.entry.name);
      operations.push(result.entry);
    }
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
