// When a host may take a release that rolls out in waves, without any coordination: the signed
// manifest gives the schedule, and each host's place in it comes from a stable hash of its machine id
// and the release, so the same hosts go first for one release and different hosts for the next.

import { createHash } from 'node:crypto';

/** A rollout as the signed manifest gives it: spread evenly over a time, or in explicit waves. */
export type RolloutSchedule =
  | { readonly start: string; readonly durationSeconds: number }
  | { readonly waves: readonly { readonly at: string; readonly fraction: number }[] };

/**
 * The host's place in a release's rollout, in [0, 1): the first 53 bits of
 * sha256("slipway-rollout\0" + machine id + "\0" + version), so it is uniform over hosts, stable for a
 * host and release, and unrelated between releases.
 */
export function rolloutPosition(machineId: string, version: string): number {
  const digest = createHash('sha256').update(`slipway-rollout\0${machineId}\0${version}`).digest();
  // 53 bits: every value is exact in a double.
  return Number(digest.readBigUInt64BE(0) >> 11n) / 2 ** 53;
}

/**
 * The time from which the host at `position` may take the release. Spread: start + position × duration.
 * Waves (sorted by time, fractions cumulative, the last 1): the first wave whose fraction exceeds the
 * position. A host's clock off by a few minutes shifts its own moment by exactly that much, never
 * its wave.
 */
export function eligibleFrom(schedule: RolloutSchedule, position: number): Date {
  if ('start' in schedule) return new Date(Date.parse(schedule.start) + Math.floor(position * schedule.durationSeconds * 1000));
  const wave = schedule.waves.find((w) => position < w.fraction) ?? schedule.waves.at(-1);
  if (wave === undefined) throw new RangeError('a rollout needs at least one wave');
  return new Date(wave.at);
}

/** Which wave (1-based) the position falls in, for status; null for an even spread. */
export function waveNumber(schedule: RolloutSchedule, position: number): number | null {
  if ('start' in schedule) return null;
  const index = schedule.waves.findIndex((w) => position < w.fraction);
  return (index === -1 ? schedule.waves.length - 1 : index) + 1;
}

/** Problems with a schedule as a publisher wrote it, for the manifest parser; null when it is sound. */
export function scheduleProblem(schedule: RolloutSchedule): string | null {
  if ('start' in schedule) {
    if (Number.isNaN(Date.parse(schedule.start))) return 'rollout.start must be an ISO 8601 time';
    if (!Number.isSafeInteger(schedule.durationSeconds) || schedule.durationSeconds <= 0) return 'rollout.durationSeconds must be a positive whole number';
    return null;
  }
  if (schedule.waves.length === 0) return 'rollout.waves must name at least one wave';
  let previous = { at: Number.NEGATIVE_INFINITY, fraction: 0 };
  for (const [index, wave] of schedule.waves.entries()) {
    const at = Date.parse(wave.at);
    if (Number.isNaN(at)) return `rollout.waves[${index}].at must be an ISO 8601 time`;
    if (!(wave.fraction > previous.fraction && wave.fraction <= 1)) return `rollout.waves[${index}].fraction must grow and be at most 1`;
    if (at < previous.at) return `rollout.waves[${index}].at must not come before the wave above it`;
    previous = { at, fraction: wave.fraction };
  }
  if (previous.fraction !== 1) return 'rollout.waves must end with fraction 1 (every host)';
  return null;
}
