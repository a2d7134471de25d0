// When a host may take a release that rolls out in waves, without any coordination: the signed
// manifest gives the schedule (images/rollout-schedule.ts), and each host's place in it comes from a
// stable hash of its machine id and the release, so the same hosts go first for one release and
// different hosts for the next. Pure.

import { createHash } from 'node:crypto';
import { UpdateError } from './update-errors.ts';
import type { ReleaseManifest } from '../../images/release-manifest.ts';
import type { RolloutSchedule } from '../../images/rollout-schedule.ts';

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
 * position. Neither depends on the host's clock: one that is off by a few minutes acts that much
 * early or late, never in another wave.
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

/** A release this host may not take yet: until when, its place, and its wave (null for an even spread) of how many. */
export interface WaveWait {
  readonly version: string;
  readonly until: string;
  readonly position: number;
  readonly wave: number | null;
  readonly waves: number | null;
}

/** Null when the host at this machine id may take `version` at `now` (its moment has come); otherwise how long it waits. */
export function waveWait(schedule: RolloutSchedule, machineId: string, version: string, now: Date): WaveWait | null {
  const position = rolloutPosition(machineId, version);
  const from = eligibleFrom(schedule, position);
  if (now.getTime() >= from.getTime()) return null;
  return { version, until: from.toISOString(), position, wave: waveNumber(schedule, position), waves: 'waves' in schedule ? schedule.waves.length : null };
}

/** "1.0.1 waits for its wave until T (wave 2 of 3)", as status, plan and the log say it. */
export function describeWait(wait: WaveWait): string {
  const place = wait.wave === null ? `at ${(wait.position * 100).toFixed(1)}% of an even spread` : `wave ${wait.wave} of ${wait.waves ?? '?'}`;
  return `${wait.version} waits for its wave until ${wait.until} (${place})`;
}

/**
 * The wait a release the policy would install imposes on this host at `now`, or null: it has no
 * rollout, this host's moment has come, or an operator overrode it (a pin, `slipway update --now`).
 */
export function releaseWait(manifest: Pick<ReleaseManifest, 'version' | 'rollout'>, machineId: string, now: Date, overridden: boolean): WaveWait | null {
  if (manifest.rollout === undefined || overridden) return null;
  // Every host without an id would share one place and go together: refused rather than guessed.
  if (machineId === '') throw new UpdateError('ERR_MACHINE_ID_MISSING', `${manifest.version} rolls out in waves and /etc/machine-id is empty, so this host's place in the rollout is unknown; slipway update --now takes it anyway`);
  return waveWait(manifest.rollout, machineId, manifest.version, now);
}
