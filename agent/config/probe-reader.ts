// How health.probes is read: a list of { name, http: { url, status, timeout } } or
// { name, exec: { command, timeout } }, each problem with its line and the key it is under.

import { didYouMean } from '../../platform/did-you-mean.ts';
import { duration, show, text, urlProblem } from './setting-readers.ts';
import type { Issue, Raw, RawEntry, Read, Reader } from './setting-readers.ts';
import { VERIFIED_ROOT_PROBE } from '../health/health-ports.ts';
import type { HttpProbe, ConfiguredProbe, StatusRange } from '../health/health-ports.ts';

const ok = <T>(value: T): Read<T> => ({ ok: true, value });
const issue = (line: number, suffix: string, message: string): Issue => ({ line, suffix, message });

export const DEFAULT_HTTP_TIMEOUT_SECONDS = 5;
export const DEFAULT_EXEC_TIMEOUT_SECONDS = 10;
export const DEFAULT_STATUS: StatusRange = { low: 200, high: 399 };

/** The entries of a mapping with only `known` keys; unknown ones are issues with a did-you-mean. */
function entries(raw: Raw, known: readonly string[], what: string, issues: Issue[]): Map<string, RawEntry> | null {
  if (raw.kind !== 'map') {
    issues.push(issue(raw.line, '', `must be a mapping with ${what}, not ${show(raw)}`));
    return null;
  }
  const found = new Map<string, RawEntry>();
  for (const entry of raw.entries) {
    if (known.includes(entry.key)) found.set(entry.key, entry);
    else {
      const hint = didYouMean(entry.key, known);
      issues.push(issue(entry.line, '', `unknown key ${JSON.stringify(entry.key)}${hint === null ? '' : `; did you mean "${hint}"?`}`));
    }
  }
  return found;
}

/** "200-399", "200" or 204: HTTP status codes from 100 to 599. */
export function readStatus(raw: Raw): Read<StatusRange> {
  const written = raw.kind === 'scalar' && (typeof raw.value === 'string' || typeof raw.value === 'number') ? raw.text.trim() : null;
  const match = written === null ? null : /^(\d{3})(?:\s*-\s*(\d{3}))?$/.exec(written);
  const low = Number(match?.[1]);
  const high = Number(match?.[2] ?? match?.[1]);
  if (match === null || low < 100 || high > 599 || low > high) return { ok: false, issues: [issue(raw.line, '', `must be a status code or a range like "200-399", not ${show(raw)}`)] };
  return ok({ low, high });
}

export function formatStatusRange(status: StatusRange): string {
  return status.low === status.high ? String(status.low) : `${status.low}-${status.high}`;
}

function timeout(entry: RawEntry | undefined, fallback: number, issues: Issue[]): number {
  if (entry === undefined) return fallback;
  const read = duration(0.001, '1ms')(entry.value);
  if (read.ok) return read.value;
  issues.push(...read.issues.map((i) => ({ ...i, suffix: `.timeout${i.suffix}` })));
  return fallback;
}

function readHttp(raw: Raw, issues: Issue[]): HttpProbe['http'] | null {
  const before = issues.length;
  const found = entries(raw, ['url', 'status', 'timeout'], 'url, status and timeout', issues);
  if (found === null) return null;
  const url = found.get('url');
  let value = '';
  if (url === undefined) issues.push(issue(raw.line, '', 'needs "url"'));
  else {
    const read = text(urlProblem)(url.value);
    if (read.ok) value = read.value;
    else issues.push(...read.issues.map((i) => ({ ...i, suffix: '.url' })));
  }
  const statusEntry = found.get('status');
  let status = DEFAULT_STATUS;
  if (statusEntry !== undefined) {
    const read = readStatus(statusEntry.value);
    if (read.ok) status = read.value;
    else issues.push(...read.issues.map((i) => ({ ...i, suffix: '.status' })));
  }
  const timeoutSeconds = timeout(found.get('timeout'), DEFAULT_HTTP_TIMEOUT_SECONDS, issues);
  return issues.length === before ? { url: value, status, timeoutSeconds } : null;
}

function readExec(raw: Raw, issues: Issue[]): { command: string[]; timeoutSeconds: number } | null {
  const before = issues.length;
  const found = entries(raw, ['command', 'timeout'], 'command and timeout', issues);
  if (found === null) return null;
  const command = found.get('command');
  const argv: string[] = [];
  if (command === undefined) issues.push(issue(raw.line, '', 'needs "command"'));
  else if (command.value.kind !== 'list' || command.value.items.length === 0) issues.push(issue(command.line, '.command', `must be a non-empty list of words (argv, no shell), not ${show(command.value)}`));
  else {
    for (const [index, item] of command.value.items.entries()) {
      const read = text()(item);
      if (read.ok) argv.push(read.value);
      else issues.push(...read.issues.map((i) => ({ ...i, suffix: `.command[${index}]` })));
    }
    if (argv.length > 0 && !(argv[0] ?? '').startsWith('/')) issues.push(issue(command.value.items[0]?.line ?? command.line, '.command[0]', `must be an absolute path, not ${JSON.stringify(argv[0])}`));
  }
  const timeoutSeconds = timeout(found.get('timeout'), DEFAULT_EXEC_TIMEOUT_SECONDS, issues);
  return issues.length === before ? { command: argv, timeoutSeconds } : null;
}

const probe: Reader<ConfiguredProbe> = (raw) => {
  const issues: Issue[] = [];
  const found = entries(raw, ['name', 'http', 'exec'], 'name and http or exec', issues);
  if (found === null) return { ok: false, issues };
  let name = '';
  const nameEntry = found.get('name');
  if (nameEntry === undefined) issues.push(issue(raw.line, '', 'needs "name"'));
  else {
    const read = text((v) => (v === VERIFIED_ROOT_PROBE ? `${JSON.stringify(v)} is the agent's own dm-verity probe; choose another name` : /^[A-Za-z0-9_.:-]+$/.test(v) ? null : `must be a word of letters, digits and _.:-, not ${JSON.stringify(v)}`))(nameEntry.value);
    if (read.ok) name = read.value;
    else issues.push(...read.issues.map((i) => ({ ...i, suffix: '.name' })));
  }
  const http = found.get('http');
  const exec = found.get('exec');
  if ((http === undefined) === (exec === undefined)) {
    issues.push(issue(raw.line, '', 'needs exactly one of "http" or "exec"'));
    return { ok: false, issues };
  }
  const nested: Issue[] = [];
  const spec: ConfiguredProbe | null = http !== undefined ? wrap(readHttp(http.value, nested), (h) => ({ name, http: h })) : wrap(readExec((exec as RawEntry).value, nested), (e) => ({ name, exec: e }));
  issues.push(...nested.map((i) => ({ ...i, suffix: `.${http !== undefined ? 'http' : 'exec'}${i.suffix}` })));
  return issues.length === 0 && spec !== null ? ok(spec) : { ok: false, issues };
};

function wrap<T>(value: T | null, make: (v: T) => ConfiguredProbe): ConfiguredProbe | null {
  return value === null ? null : make(value);
}

/** The probes; two with one name are refused at the second. */
export const probeList: Reader<ConfiguredProbe[]> = (raw) => {
  if (raw.kind !== 'list') return { ok: false, issues: [issue(raw.line, '', `must be a list, not ${show(raw)}`)] };
  const values: ConfiguredProbe[] = [];
  const issues: Issue[] = [];
  const names = new Set<unknown>();
  for (const [index, item] of raw.items.entries()) {
    const read = probe(item);
    if (!read.ok) issues.push(...read.issues.map((i) => ({ ...i, suffix: `[${index}]${i.suffix}` })));
    else values.push(read.value);
    // Names are compared as written, so a probe with other problems still claims its name.
    const name = item.kind === 'map' ? item.entries.find((e) => e.key === 'name') : undefined;
    if (name?.value.kind !== 'scalar' || typeof name.value.value !== 'string') continue;
    if (names.has(name.value.value)) issues.push(issue(name.line, `[${index}].name`, `${JSON.stringify(name.value.value)} is the name of an earlier probe; each needs its own`));
    names.add(name.value.value);
  }
  return issues.length === 0 ? ok(values) : { ok: false, issues };
};
