// The rollout schedule a signed manifest may carry: from when, and how fast, hosts may take a release
// (spread evenly over a duration, or in explicit waves). Its shape and its checks; where each host
// falls in it is the agent's business (agent/update/rollout-wave.ts).

/** A rollout as the signed manifest gives it: spread evenly over a time, or in explicit waves. */
export type RolloutSchedule =
  | { readonly start: string; readonly durationSeconds: number }
  | { readonly waves: readonly RolloutWave[] };

/** From `at` on, the hosts whose place in the rollout is below `fraction` (cumulative, the last 1) may take the release. */
export interface RolloutWave {
  readonly at: string;
  readonly fraction: number;
}

/** A rollout longer than a year is a mistake, not a plan; the bound also keeps every moment a valid date. */
export const MAX_ROLLOUT_SECONDS = 366 * 86_400;
export const MAX_WAVES = 100;

const UTC_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

/**
 * A time in UTC as toISOString writes it (milliseconds optional), naming a real instant: no local time
 * (each host would read it in its own zone), and no 31 February that Date.parse would move to March.
 */
export function isUtcTime(value: unknown): value is string {
  if (typeof value !== 'string' || !UTC_TIME.test(value)) return false;
  const ms = Date.parse(value);
  return !Number.isNaN(ms) && new Date(ms).toISOString() === (value.length === 20 ? `${value.slice(0, 19)}.000Z` : value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownKey(value: Record<string, unknown>, allowed: readonly string[]): string | undefined {
  return Object.keys(value).find((key) => !allowed.includes(key));
}

/** What is wrong with a manifest's `rollout` value, naming the field; null when it is a sound schedule. */
export function rolloutProblem(value: unknown): string | null {
  if (!isObject(value)) return 'rollout must be an object with start and durationSeconds, or with waves';
  if ('waves' in value) {
    const extra = unknownKey(value, ['waves']);
    if (extra !== undefined) return `rollout.${extra} is not a field of a rollout in waves (only waves)`;
    return wavesProblem(value.waves);
  }
  const extra = unknownKey(value, ['start', 'durationSeconds']);
  if (extra !== undefined) return `rollout.${extra} is not a field of a rollout (start and durationSeconds, or waves)`;
  if (!isUtcTime(value.start)) return 'rollout.start must be a UTC time like 2026-12-03T00:00:00.000Z';
  const duration = value.durationSeconds;
  if (typeof duration !== 'number' || !Number.isSafeInteger(duration) || duration <= 0 || duration > MAX_ROLLOUT_SECONDS) {
    return `rollout.durationSeconds must be a whole number of seconds from 1 to ${MAX_ROLLOUT_SECONDS} (366 days)`;
  }
  return null;
}

function wavesProblem(waves: unknown): string | null {
  if (!Array.isArray(waves) || waves.length === 0) return 'rollout.waves must be a list of at least one wave';
  if (waves.length > MAX_WAVES) return `rollout.waves must have at most ${MAX_WAVES} waves`;
  let previous = { at: Number.NEGATIVE_INFINITY, fraction: 0 };
  let first: number | null = null;
  for (const [index, wave] of (waves as unknown[]).entries()) {
    const field = `rollout.waves[${index}]`;
    if (!isObject(wave)) return `${field} must be an object with at and fraction`;
    const extra = unknownKey(wave, ['at', 'fraction']);
    if (extra !== undefined) return `${field}.${extra} is not a field of a wave (at and fraction)`;
    if (!isUtcTime(wave.at)) return `${field}.at must be a UTC time like 2026-12-03T00:00:00.000Z`;
    const { fraction } = wave;
    if (typeof fraction !== 'number' || !Number.isFinite(fraction) || fraction <= previous.fraction || fraction > 1) {
      return `${field}.fraction must be a number above the wave before it (${previous.fraction}) and at most 1`;
    }
    const at = Date.parse(wave.at);
    if (at < previous.at) return `${field}.at must not come before the wave before it`;
    first ??= at;
    if (at - first > MAX_ROLLOUT_SECONDS * 1000) return `${field}.at is more than 366 days after the first wave`;
    previous = { at, fraction };
  }
  if (previous.fraction !== 1) return 'rollout.waves must end with fraction 1 (every host)';
  return null;
}
