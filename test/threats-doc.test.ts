// docs/threats.md names, for every threat, the tests that inject it: each file it names must exist,
// and each quoted test name must be found in that file (a name ending in "…" by its beginning), so
// the table cannot drift from the suite.

import { describe, expect, it } from 'vitest';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

interface Reference {
  readonly file: string;
  readonly names: readonly string[];
}

/** The test column of every table row: `path "name", "name"; path; …`. */
async function references(): Promise<Reference[]> {
  const text = await readFile(join(ROOT, 'docs', 'threats.md'), 'utf8');
  const refs: Reference[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('| ') || line.startsWith('| threat') || line.startsWith('| ---')) continue;
    const cells = line.split(' | ');
    const tests = (cells.at(-1) ?? '').replace(/ \|$/, '');
    for (const part of tests.split('; ')) {
      const file = /^(?:VM: )?((?:test|agent|images|cloud-config|platform|qemu)\/[\w./*-]+)/.exec(part.trim())?.[1];
      if (file === undefined) continue;
      const names = [...part.matchAll(/"([^"]+)"/g)].map((m) => m[1] ?? '');
      refs.push({ file, names });
    }
  }
  return refs;
}

describe('docs/threats.md', () => {
  it('names only test files that exist, and test names found in them', async () => {
    const refs = await references();
    expect(refs.length).toBeGreaterThan(60);
    const missing: string[] = [];
    for (const { file, names } of refs) {
      if (file.includes('*')) continue;
      const path = join(ROOT, file);
      const exists = await stat(path).then(() => true, () => false);
      if (!exists) {
        missing.push(`${file}: no such file`);
        continue;
      }
      const source = (await readFile(path, 'utf8')).replace(/\\'/g, "'");
      for (const name of names) {
        const probe = name.replace(/ …$/, '').replace(/…$/, '');
        if (!source.includes(probe)) missing.push(`${file}: no test named "${name}"`);
      }
    }
    expect(missing).toEqual([]);
  });
});
