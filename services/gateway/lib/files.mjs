// Small file helpers shared by the build scripts (compose.mjs, persisted.mjs).
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Files matching `pattern` (relative to `baseDir`), sorted. Only the last path segment may
 * hold `*` wildcards: SDL and operation folders are flat, so a full glob engine is not needed
 * (and Node 20 has no fs.glob).
 */
export async function matchFiles(baseDir, pattern) {
  const absolute = path.resolve(baseDir, pattern);
  const dir = path.dirname(absolute);
  const namePattern = path.basename(absolute);
  if (dir.includes('*')) {
    throw new Error(`${pattern}: '*' is only allowed in the file name`);
  }
  const escaped = namePattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]*');
  const matcher = new RegExp(`^${escaped}$`);
  let names;
  try {
    names = await readdir(dir);
  } catch (error) {
    if (error.code === 'ENOENT') return [];
    throw error;
  }
  return names
    .filter((name) => matcher.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

/**
 * Write `text` to `file` atomically (temp file + rename), so a running gateway that polls the
 * file never reads half of it. With `check`, write nothing and report whether it differs.
 */
export async function writeOrCheck(file, text, { check, label, fixCommand }) {
  if (!check) {
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, text);
    await rename(temporary, file);
    return true;
  }
  let current = null;
  try {
    current = await readFile(file, 'utf8');
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  if (current === text) return true;
  const state = current === null ? 'missing' : 'out of date';
  const where = path.relative(process.cwd(), file);
  console.error(`${label}: ${where} is ${state}; run \`${fixCommand}\` and commit the result`);
  return false;
}
