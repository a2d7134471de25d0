// Checks a parsed state file field by field before the agent trusts it: a wrong type is refused
// naming its field (ERR_STATE_INVALID), so the file is set aside like a torn one instead of crashing
// every later run. A missing field takes its initial value (records written before it existed). Pure.

import { isVersion } from '../../images/release-manifest.ts';
import { UpdateError } from './update-errors.ts';
import { INITIAL_RECORD, UPDATE_STATUSES } from './update-state.ts';
import type { UpdateRecord } from './update-state.ts';
import type { UpdateFloor } from './update-floor.ts';

/** Says what is wrong with `value` at `path`, or null when it is right. */
type Check = (value: unknown, path: string) => string | null;

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 40));
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object' && value !== null) return 'an object';
  return JSON.stringify(value) ?? String(value);
}
const must = (ok: (v: unknown) => boolean, what: string): Check => (v, path) => (ok(v) ? null : `${path} must be ${what}, not ${show(v)}`);

const text = must((v) => typeof v === 'string', 'a string');
const version = must((v) => typeof v === 'string' && isVersion(v), 'a version');
const time = must((v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)), 'an ISO 8601 time');
const count = must((v) => Number.isSafeInteger(v) && (v as number) >= 0, 'a whole number');
const bool = must((v) => typeof v === 'boolean', 'true or false');
const hex64 = must((v) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v), '64 lower-case hex digits');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const nullable = (check: Check): Check => (v, path) => (v === null ? null : check(v, path));

/** An object with these fields; those named in `optional` may be absent. */
const object = (fields: Record<string, Check>, optional: readonly string[] = []): Check => (v, path) => {
  if (!isObject(v)) return `${path} must be an object, not ${show(v)}`;
  for (const [name, check] of Object.entries(fields)) {
    if (!(name in v)) {
      if (!optional.includes(name)) return `${path}.${name} is missing`;
    } else {
      const problem = check(v[name], `${path}.${name}`);
      if (problem !== null) return problem;
    }
  }
  return null;
};

const list = (item: Check): Check => (v, path) => {
  if (!Array.isArray(v)) return `${path} must be a list, not ${show(v)}`;
  for (const [index, entry] of v.entries()) {
    const problem = item(entry, `${path}[${index}]`);
    if (problem !== null) return problem;
  }
  return null;
};

const map = (value: Check): Check => (v, path) => {
  if (!isObject(v)) return `${path} must be an object, not ${show(v)}`;
  for (const [key, entry] of Object.entries(v)) {
    const problem = value(entry, `${path}[${JSON.stringify(key)}]`);
    if (problem !== null) return problem;
  }
  return null;
};

const FLOOR_CHECKS = {
  highestAccepted: nullable(version),
  lastKnownTime: nullable(time),
  lastKnownTimeAt: nullable(time),
  pinned: nullable(text),
  failures: map(count),
  skipped: list(object({ version: text, reason: text })),
  slotVersions: map(text),
};

const RECORD_FIELDS: Record<keyof UpdateRecord, Check> = {
  schema: must((v) => v === 1, '1'),
  status: must((v) => (UPDATE_STATUSES as readonly unknown[]).includes(v), `one of ${UPDATE_STATUSES.join(', ')}`),
  target: nullable(object({ version, slot: text, manifestSha256: hex64, armed: bool }, ['armed'])),
  progress: nullable(object({ chunksDone: count, bytesDone: count, totalBytes: count })),
  lastCheck: nullable(object({ at: time, result: text })),
  lastError: nullable(object({ code: text, message: text })),
  ...FLOOR_CHECKS,
};

const REQUIRED = ['schema', 'status'];

/** The record in a parsed state file, or ERR_STATE_INVALID naming the first field that is wrong. */
export function checkRecord(value: unknown): UpdateRecord {
  const problem = object(RECORD_FIELDS, Object.keys(RECORD_FIELDS).filter((name) => !REQUIRED.includes(name)))(value, 'record');
  if (problem !== null) throw new UpdateError('ERR_STATE_INVALID', problem);
  return { ...INITIAL_RECORD, ...pick(value, Object.keys(RECORD_FIELDS)) };
}

/** The floor in a parsed floor file, or ERR_STATE_INVALID naming the first field that is wrong. */
export function checkFloor(value: unknown): UpdateFloor {
  const problem = object({ schema: must((v) => v === 1, '1'), ...FLOOR_CHECKS }, ['lastKnownTimeAt', 'slotVersions'])(value, 'floor');
  if (problem !== null) throw new UpdateError('ERR_STATE_INVALID', problem);
  return { lastKnownTimeAt: null, slotVersions: {}, ...pick(value, Object.keys(FLOOR_CHECKS)) } as UpdateFloor;
}

/** Only the fields the agent knows: anything else in the file is dropped, not carried along. */
function pick(value: unknown, names: readonly string[]): Record<string, unknown> {
  const fields = value as Record<string, unknown>;
  return Object.fromEntries(names.filter((name) => name in fields).map((name) => [name, fields[name]]));
}
