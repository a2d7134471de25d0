// Settings a CoreOS host already has: /etc/coreos/update.conf (SERVER, GROUP, REBOOT_STRATEGY) and
// the locksmithd drop-ins coreos-cloudinit writes (Environment="LOCKSMITHD_…"), read the way
// update_engine and systemd read them, checked like the same keys in a fragment.

import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { COREOS_SETTINGS, COREOS_WINDOW } from '../../cloud-config/coreos-settings.ts';
import { errorCode } from './fragment-files.ts';
import { scalar, windowProblem } from './setting-readers.ts';
import { fragmentLeaf } from './settings-schema.ts';
import type { ConfigProblem } from './config-errors.ts';
import type { Assignment, Origin } from './settings-schema.ts';

/** What each variable sets, named by the fragment key that sets the same. */
const VARIABLES: Readonly<Record<string, string>> = Object.fromEntries(COREOS_SETTINGS.map((s) => [s.variable, s.fragmentKey]));
const WINDOW_START = COREOS_WINDOW.start.variable;
const WINDOW_LENGTH = COREOS_WINDOW.length.variable;

interface Variable {
  readonly value: string;
  readonly origin: Origin;
}

export interface CompatResult {
  readonly assignments: Assignment[];
  readonly problems: ConfigProblem[];
  readonly warnings: ConfigProblem[];
  /** The files that exist, in the order they apply. */
  readonly files: string[];
}

/**
 * The variables of the drop-ins, then of update.conf: locksmithd reads update.conf as an
 * EnvironmentFile=, and systemd lets EnvironmentFile= override Environment=.
 */
export async function readCoreosCompat(paths: { updateConf: string | null; dropIns: readonly string[] }): Promise<CompatResult> {
  const result: CompatResult = { assignments: [], problems: [], warnings: [], files: [] };
  const env = new Map<string, Variable>();
  const texts: { readonly path: string; readonly text: string; readonly parse: (text: string) => Parsed[] }[] = [];
  for (const [index, path] of [...paths.dropIns, ...(paths.updateConf === null ? [] : [paths.updateConf])].entries()) {
    try {
      texts.push({ path, text: await readFile(path, 'utf8'), parse: index < paths.dropIns.length ? parseDropIn : parseEnvFile });
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') result.problems.push({ file: path, line: null, key: null, message: `cannot read the file: ${(error as Error).message}` });
    }
  }
  // systemd: a drop-in in a later directory masks the one of the same name in an earlier directory.
  const applied = texts.filter(({ path, parse }, index) => parse === parseEnvFile || !texts.slice(index + 1).some((later) => later.parse === parseDropIn && basename(later.path) === basename(path)));
  for (const { path, text, parse } of applied) {
    result.files.push(path);
    for (const item of parse(text)) {
      const origin = { file: path, line: item.line };
      if ('problem' in item) result.problems.push({ ...origin, key: null, message: item.problem });
      else if (Object.hasOwn(VARIABLES, item.name) || item.name === WINDOW_START || item.name === WINDOW_LENGTH) env.set(item.name, { value: item.value, origin });
      else result.warnings.push({ ...origin, key: item.name, message: 'is not used by slipway; ignored' });
    }
  }
  for (const [name, variable] of env) {
    const key = Object.hasOwn(VARIABLES, name) ? VARIABLES[name] : undefined;
    // An empty value is how these files leave a variable at its default.
    if (key === undefined || variable.value === '') continue;
    const field = fragmentLeaf(key);
    const read = field.read(scalar(variable.value, variable.origin.line));
    if (read.ok) result.assignments.push({ target: field.target, value: read.value, key: name, origin: variable.origin });
    else for (const issue of read.issues) result.problems.push({ ...variable.origin, key: name, message: issue.message });
  }
  addWindow(env, result);
  return result;
}

function addWindow(env: ReadonlyMap<string, Variable>, result: CompatResult): void {
  const start = env.get(WINDOW_START);
  const length = env.get(WINDOW_LENGTH);
  if ((start?.value ?? '') === '' && (length?.value ?? '') === '') return;
  if (start === undefined || start.value === '' || length === undefined || length.value === '') {
    const [set, missing] = start === undefined || start.value === '' ? [length, WINDOW_START] : [start, WINDOW_LENGTH];
    if (set !== undefined) result.problems.push({ ...set.origin, key: set === start ? WINDOW_START : WINDOW_LENGTH, message: `needs ${missing} too, as locksmith does` });
    return;
  }
  const problem = windowProblem(start.value, length.value);
  if (problem === null) {
    result.assignments.push({ target: 'reboot.windows', value: [{ start: start.value, length: length.value }], key: WINDOW_START, origin: start.origin });
  } else {
    const at = problem.part === 'start' ? start : length;
    result.problems.push({ ...at.origin, key: problem.part === 'start' ? WINDOW_START : WINDOW_LENGTH, message: problem.message });
  }
}

type Parsed = { readonly line: number; readonly name: string; readonly value: string } | { readonly line: number; readonly problem: string };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** update.conf: KEY=VALUE lines, # comments, the value optionally in one pair of quotes. */
export function parseEnvFile(text: string): Parsed[] {
  const parsed: Parsed[] = [];
  for (const [index, rawLine] of text.split('\n').entries()) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = eq < 0 ? '' : line.slice(0, eq).trim();
    // The line is not quoted back: it may be a password written without its "=".
    if (!NAME.test(name)) {
      parsed.push({ line: index + 1, problem: 'expected KEY=VALUE' });
      continue;
    }
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) value = value.slice(1, -1);
    parsed.push({ line: index + 1, name, value });
  }
  return parsed;
}

/**
 * A unit drop-in's Environment= assignments, split as systemd does: several per line, separated by
 * spaces, each optionally quoted (quotes may also start mid-word), backslash escapes, a trailing
 * backslash continuing the line. Other settings and sections are not ours and are skipped.
 */
export function parseDropIn(text: string): Parsed[] {
  const parsed: Parsed[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const first = index + 1;
    let line = (lines[index] ?? '').trim();
    while (line.endsWith('\\') && index + 1 < lines.length) line = `${line.slice(0, -1)} ${(lines[++index] ?? '').trim()}`;
    const match = /^Environment\s*=(.*)$/.exec(line);
    if (match === null) continue;
    const words = splitWords(match[1] ?? '');
    if (words === null) {
      parsed.push({ line: first, problem: 'Environment=: a quote is not closed' });
      continue;
    }
    for (const word of words) {
      const eq = word.indexOf('=');
      const name = eq < 0 ? '' : word.slice(0, eq);
      if (NAME.test(name)) parsed.push({ line: first, name, value: word.slice(eq + 1) });
      else parsed.push({ line: first, problem: 'Environment=: expected VAR=value assignments' });
    }
  }
  return parsed;
}

function splitWords(text: string): string[] | null {
  const words: string[] = [];
  let current: string | null = null;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] ?? '';
    if (char === '\\' && i + 1 < text.length) {
      current = (current ?? '') + (text[++i] ?? '');
    } else if (quote !== null) {
      if (char === quote) quote = null;
      else current = (current ?? '') + char;
    } else if (char === '"' || char === "'") {
      quote = char;
      current ??= '';
    } else if (/\s/.test(char)) {
      if (current !== null) words.push(current);
      current = null;
    } else {
      current = (current ?? '') + char;
    }
  }
  if (quote !== null) return null;
  if (current !== null) words.push(current);
  return words;
}
