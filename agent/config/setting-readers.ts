// How each setting's value is read and checked, whether it comes from a YAML fragment or a CoreOS
// file: a value tree with line numbers in, the agent's value or every problem with its line out.

import { parseGoDuration, parseLocksmithWindow } from '../../platform/locksmith-window.ts';
import { checkTimeZone } from '../lock/zoned-time.ts';
import { didYouMean } from '../../platform/did-you-mean.ts';
import type { WindowSetting } from './settings.ts';

/** A value as written, independent of YAML: scalars keep their text ("1.10" stays "1.10" as a string setting). */
export type Raw =
  | { readonly kind: 'scalar'; readonly value: unknown; readonly text: string; readonly line: number }
  | { readonly kind: 'list'; readonly items: readonly Raw[]; readonly line: number }
  | { readonly kind: 'map'; readonly entries: readonly RawEntry[]; readonly line: number };

export interface RawEntry {
  readonly key: string;
  readonly line: number;
  readonly value: Raw;
}

/** A problem inside a value: `suffix` extends the key ("[1]", "[0].start"). */
export interface Issue {
  readonly line: number;
  readonly suffix: string;
  readonly message: string;
}

export type Read<T = unknown> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly Issue[] };
export type Reader<T = unknown> = (raw: Raw) => Read<T>;

export const scalar = (value: string, line: number): Raw => ({ kind: 'scalar', value, text: value, line });

const ok = <T>(value: T): Read<T> => ({ ok: true, value });
const fail = (raw: Raw, message: string, suffix = ''): Read<never> => ({ ok: false, issues: [{ line: raw.line, suffix, message }] });

/** The value as a message quotes it: strings quoted, other scalars as written, containers by kind. */
export function show(raw: Raw): string {
  if (raw.kind === 'list') return 'a list';
  if (raw.kind === 'map') return 'a mapping';
  if (typeof raw.value === 'string') return JSON.stringify(raw.value);
  if (raw.value === null) return 'null';
  return typeof raw.value === 'number' || typeof raw.value === 'boolean' ? raw.text : 'a tagged value';
}

/** A string setting; a plain number is read as the text written. Secret values are never quoted back. */
export function text(check?: (value: string) => string | null, options: { secret?: boolean } = {}): Reader<string> {
  return (raw) => {
    if (raw.kind !== 'scalar' || !(typeof raw.value === 'string' || typeof raw.value === 'number')) {
      return fail(raw, options.secret === true ? 'must be a string' : `must be a string, not ${show(raw)}`);
    }
    const value = typeof raw.value === 'string' ? raw.value : raw.text;
    const problem = check?.(value) ?? null;
    return problem === null ? ok(value) : fail(raw, options.secret === true ? 'is not valid' : problem);
  };
}

export function nullable<T>(reader: Reader<T>): Reader<T | null> {
  return (raw) => (raw.kind === 'scalar' && raw.value === null ? ok(null) : reader(raw));
}

export const bool: Reader<boolean> = (raw) => (raw.kind === 'scalar' && typeof raw.value === 'boolean' ? ok(raw.value) : fail(raw, `must be true or false, not ${show(raw)}`));

export function integer(min: number, max: number): Reader<number> {
  return (raw) => {
    if (raw.kind === 'scalar' && typeof raw.value === 'number' && Number.isInteger(raw.value) && raw.value >= min && raw.value <= max) return ok(raw.value);
    return fail(raw, `must be a whole number from ${min} to ${max}, not ${show(raw)}`);
  };
}

/** A share in (0, 1]: 0.25, or a percentage written "25%". */
export const fraction: Reader<number> = (raw) => {
  const written = raw.kind === 'scalar' ? (typeof raw.value === 'number' ? raw.value : typeof raw.value === 'string' && /^\d+(\.\d+)?%$/.test(raw.value.trim()) ? Number(raw.value.trim().slice(0, -1)) / 100 : null) : null;
  return written !== null && written > 0 && written <= 1 ? ok(written) : fail(raw, `must be a fraction above 0 and at most 1 (0.25 or "25%"), not ${show(raw)}`);
};

export function oneOf<T extends string>(values: readonly T[]): Reader<T> {
  return (raw) => (raw.kind === 'scalar' && values.includes(raw.value as T) ? ok(raw.value as T) : fail(raw, `must be one of ${values.join(', ')}, not ${show(raw)}`));
}

/** A Go duration ("5m", "1h30m"; "0" too, as Go accepts it) in seconds, at least `minSeconds`. */
export function duration(minSeconds: number, minText: string): Reader<number> {
  return (raw) => {
    const written = raw.kind === 'scalar' && typeof raw.value === 'string' ? raw.value : null;
    let ms: number | null = null;
    try {
      if (written !== null) ms = written === '0' ? 0 : parseGoDuration(written);
    } catch {
      ms = null;
    }
    if (ms === null) return fail(raw, `must be a duration like "30s", "5m" or "1h30m", not ${show(raw)}`);
    return ms / 1000 >= minSeconds ? ok(ms / 1000) : fail(raw, `must be at least ${minText}, not ${show(raw)}`);
  };
}

const RATE_UNITS: Readonly<Record<string, number>> = { B: 1, KB: 1000, KiB: 1024, MB: 1000 ** 2, MiB: 1024 ** 2 };

/** A byte rate in bytes per second: a plain number (4096), or with a unit ("8KiB/s", "1 MB/s"); 0 is allowed. */
export const byteRate: Reader<number> = (raw) => {
  const problem = `must be a byte rate like "4KiB/s", "1MB/s" or a number of bytes per second, not ${show(raw)}`;
  if (raw.kind !== 'scalar') return fail(raw, problem);
  if (typeof raw.value === 'number') return Number.isSafeInteger(raw.value) && raw.value >= 0 ? ok(raw.value) : fail(raw, problem);
  const match = typeof raw.value === 'string' ? /^(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB)\/s$/.exec(raw.value.trim()) : null;
  const unit = match?.[2] === undefined ? undefined : RATE_UNITS[match[2]];
  if (!match?.[1] || unit === undefined) return fail(raw, problem);
  return ok(Math.round(Number(match[1]) * unit));
};

export const absolutePath = text((v) => (v.startsWith('/') && !v.split('/').includes('..') ? null : `must be an absolute path, not ${JSON.stringify(v)}`));

export function urlProblem(v: string): string | null {
  try {
    const parsed = new URL(v);
    if ((parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.hostname !== '') return null;
  } catch {
    // Reported below like any other non-URL.
  }
  return `must be an http or https URL, not ${JSON.stringify(v)}`;
}

export const url = text(urlProblem);

export function list<T>(item: Reader<T>): Reader<T[]> {
  return (raw) => {
    if (raw.kind !== 'list') return fail(raw, `must be a list, not ${show(raw)}`);
    const values: T[] = [];
    const issues: Issue[] = [];
    raw.items.forEach((element, index) => {
      const read = item(element);
      if (read.ok) values.push(read.value);
      else issues.push(...read.issues.map((i) => ({ ...i, suffix: `[${index}]${i.suffix}` })));
    });
    return issues.length === 0 ? ok(values) : { ok: false, issues };
  };
}

/** A list of URLs, or one string of them separated by commas, as locksmith's endpoint was written. */
export const urlList: Reader<string[]> = (raw) => {
  if (raw.kind !== 'scalar' || typeof raw.value !== 'string') return list(url)(raw);
  const urls = raw.value.split(',').map((u) => u.trim()).filter((u) => u !== '');
  const problem = urls.map(urlProblem).find((p) => p !== null);
  return problem === undefined ? ok(urls) : fail(raw, problem);
};

export const timeZone = text((v) => {
  try {
    checkTimeZone(v);
    return null;
  } catch {
    return `must be a time zone this system knows, like "Europe/Berlin", not ${JSON.stringify(v)}`;
  }
});

const UNIT_NAME = /^[A-Za-z0-9:_.\\@-]+\.(service|socket|device|mount|automount|swap|target|path|timer|slice|scope)$/;
export const unitName = text((v) => (UNIT_NAME.test(v) ? null : `must be a systemd unit name like app.service, not ${JSON.stringify(v)}`));

export const word = text((v) => (/^[^\s/]+$/.test(v) ? null : `must be a word without spaces or slashes, not ${JSON.stringify(v)}`));

/** "host:port" ("127.0.0.1:9527", "[::1]:9527"), or false/null for no metrics endpoint. */
export const listen: Reader<string | null> = (raw) => {
  if (raw.kind === 'scalar' && (raw.value === false || raw.value === null)) return ok(null);
  if (raw.kind === 'scalar' && typeof raw.value === 'string') {
    const match = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(raw.value);
    if (match && Number(match[1]) <= 65_535) return ok(raw.value);
  }
  return fail(raw, `must be "host:port" like "127.0.0.1:9527", or false, not ${show(raw)}`);
};

/** Which half of a locksmith window is wrong, and why; null when both are fine. */
export function windowProblem(start: string, length: string): { readonly part: 'start' | 'length'; readonly message: string } | null {
  try {
    parseLocksmithWindow(start, '1h');
  } catch (error) {
    return { part: 'start', message: (error as Error).message };
  }
  try {
    parseLocksmithWindow(start, length);
  } catch (error) {
    return { part: 'length', message: (error as Error).message };
  }
  return null;
}

const WINDOW_KEYS = ['start', 'length'] as const;

export const window: Reader<WindowSetting> = (raw) => {
  if (raw.kind !== 'map') return fail(raw, `must be a mapping with start and length, not ${show(raw)}`);
  const issues: Issue[] = [];
  const parts: Partial<Record<(typeof WINDOW_KEYS)[number], { value: string; line: number }>> = {};
  for (const entry of raw.entries) {
    if (entry.key !== 'start' && entry.key !== 'length') {
      const hint = didYouMean(entry.key, WINDOW_KEYS);
      issues.push({ line: entry.line, suffix: '', message: `unknown key ${JSON.stringify(entry.key)}${hint === null ? '' : `; did you mean "${hint}"?`}` });
      continue;
    }
    const read = text()(entry.value);
    if (read.ok) parts[entry.key] = { value: read.value, line: entry.line };
    else issues.push(...read.issues.map((i) => ({ ...i, suffix: `.${entry.key}` })));
  }
  const { start, length } = parts;
  for (const key of WINDOW_KEYS) if (!(key in parts) && !issues.some((i) => i.suffix === `.${key}`)) issues.push({ line: raw.line, suffix: '', message: `needs "${key}"` });
  if (issues.length > 0 || start === undefined || length === undefined) return { ok: false, issues };
  const problem = windowProblem(start.value, length.value);
  if (problem !== null) return { ok: false, issues: [{ line: parts[problem.part]?.line ?? raw.line, suffix: `.${problem.part}`, message: problem.message }] };
  return ok({ start: start.value, length: length.value });
};
