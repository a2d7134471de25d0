// Finding config.d fragments with systemd drop-in rules (a name in a later directory replaces the
// same name in an earlier one; the survivors apply in lexical order of name) and reading each as YAML.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node } from 'yaml';
import type { ConfigProblem } from './config-errors.ts';
import type { Raw } from './setting-readers.ts';

export interface FragmentFile {
  readonly name: string;
  readonly path: string;
  /** Index into the directory list: which layer the file came from. */
  readonly dir: number;
}

/** Aliases a fragment may expand; a few are handy, thousands are an attack on the parser. */
const MAX_ALIASES = 64;

export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** The fragments that apply, in the order they apply; missing directories are fine. */
export async function listFragments(dirs: readonly string[]): Promise<{ files: FragmentFile[]; problems: ConfigProblem[] }> {
  const byName = new Map<string, FragmentFile>();
  const problems: ConfigProblem[] = [];
  for (const [dir, path] of dirs.entries()) {
    let names: string[];
    try {
      names = await readdir(path);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') problems.push({ file: path, line: null, key: null, message: `cannot list the directory: ${(error as Error).message}` });
      continue;
    }
    for (const name of names) if (name.endsWith('.yaml') || name.endsWith('.yml')) byName.set(name, { name, path: join(path, name), dir });
  }
  // Code-unit order, not locale order: "10-a" before "9-b" exactly as `ls` in the C locale shows it.
  const files = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { files, problems };
}

export async function readConfigFile(path: string): Promise<{ text: string } | { problem: ConfigProblem }> {
  try {
    return { text: await readFile(path, 'utf8') };
  } catch (error) {
    return { problem: { file: path, line: null, key: null, message: `cannot read the file: ${(error as Error).message}` } };
  }
}

/** A fragment's YAML (1.2) as a value tree with lines; null for an empty file or one of comments only. */
export function parseFragment(text: string, file: string): { raw: Raw | null; problems: ConfigProblem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { version: '1.2', lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const lineOf = (offset: number | undefined): number => (offset === undefined ? 1 : lines.linePos(offset).line);
  const problems: ConfigProblem[] = [];
  const seenLines = new Set<number>();
  for (const error of doc.errors) {
    // One error per line: the parser's follow-on complaints about the same spot add nothing.
    const line = lineOf(error.pos[0]);
    if (seenLines.has(line)) continue;
    seenLines.add(line);
    problems.push({ file, line, key: null, message: `invalid YAML: ${error.message.split('\n')[0] ?? error.message}` });
  }
  if (problems.length > 0 || doc.contents === null) return { raw: null, problems };
  const budget = { aliases: MAX_ALIASES };
  const raw = toRaw(doc.contents, 1, { doc, lineOf, budget, file, problems });
  return { raw: problems.length > 0 ? null : raw, problems };
}

interface Convert {
  readonly doc: Document;
  readonly lineOf: (offset: number | undefined) => number;
  readonly budget: { aliases: number };
  readonly file: string;
  readonly problems: ConfigProblem[];
}

function toRaw(node: unknown, fallbackLine: number, c: Convert): Raw {
  const line = c.lineOf((node as Node | null)?.range?.[0]) || fallbackLine;
  if (isAlias(node)) {
    const target = c.budget.aliases-- > 0 ? (node.resolve(c.doc) as Node | undefined) : undefined;
    // The alias's name is not quoted back: it could be a secret written unquoted after "*".
    if (target === undefined) {
      c.problems.push({ file: c.file, line, key: null, message: c.budget.aliases < 0 ? `invalid YAML: more than ${MAX_ALIASES} aliases` : 'invalid YAML: an alias names no anchor defined before it' });
      return { kind: 'scalar', value: null, text: '', line };
    }
    return { ...toRaw(target, line, c), line };
  }
  if (isMap(node)) {
    return {
      kind: 'map',
      line,
      entries: node.items.map((pair) => {
        const keyLine = isScalar(pair.key) ? c.lineOf(pair.key.range?.[0]) : line;
        return { key: isScalar(pair.key) ? String(pair.key.value) : String(pair.key), line: keyLine, value: toRaw(pair.value, keyLine, c) };
      }),
    };
  }
  if (isSeq(node)) return { kind: 'list', line, items: node.items.map((item) => toRaw(item, line, c)) };
  if (isScalar(node)) return { kind: 'scalar', value: node.value, text: node.source ?? String(node.value), line };
  return { kind: 'scalar', value: null, text: '', line };
}
