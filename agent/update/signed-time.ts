// Signed times against this host's clock, with one bound (update.max_clock_skew) both ways: a manifest
// whose `created` is further ahead of the clock is refused, and a clock further behind the newest
// signed time seen (an RTC reset) refuses freshness-dependent updates. Pure.

import { UpdateError } from './update-errors.ts';
import type { UpdateRecord } from './update-state.ts';

/**
 * The default bound: NTP-synced publishers and hosts agree within seconds, and a day absorbs an RTC
 * kept in local time (up to 14 h off) before the first sync; far below a manifest's lifetime (days).
 */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000;

/** Refuses a signed `created` beyond now + skew: a publishing mistake or an attack, never trusted as a time. */
export function refuseFromFuture(version: string, created: string, now: Date, maxSkewMs: number): void {
  if (Date.parse(created) > now.getTime() + maxSkewMs) {
    throw new UpdateError(
      'ERR_MANIFEST_FROM_FUTURE',
      `manifest for ${version} says it was created at ${created}, more than ${hours(maxSkewMs)} ahead of this host's clock (${now.toISOString()}); not trusting it`,
    );
  }
}

/** Refuses while the clock is further behind the newest signed time seen than the skew (RTC reset). */
export function refuseClockBehind(lastKnownTime: string | null, now: Date, maxSkewMs: number): void {
  if (lastKnownTime !== null && now.getTime() < Date.parse(lastKnownTime) - maxSkewMs) {
    throw new UpdateError('ERR_CLOCK_BEHIND', `the clock says ${now.toISOString()} but this host has already seen ${lastKnownTime}; refusing updates until the clock is set`);
  }
}

/**
 * A verified, accepted `created` raises the newest signed time; `lastKnownTimeAt` keeps this host's
 * clock at that moment, the evidence that tells a poisoned time from a clock set back later.
 */
export function raiseKnownTime(record: UpdateRecord, created: string, now: Date): UpdateRecord {
  if (record.lastKnownTime !== null && Date.parse(record.lastKnownTime) >= Date.parse(created)) return record;
  return { ...record, lastKnownTime: created, lastKnownTimeAt: now.toISOString() };
}

export interface ClampedTime {
  readonly from: string;
  readonly to: string;
  /** The host's clock when the stored time was recorded (or, in a record from before that was kept, its last check). */
  readonly recordedAt: string;
}

/**
 * A stored newest signed time further ahead of the host's clock *when it was recorded* than the skew
 * was never trustworthy (an agent without this bound took a far-future `created`): clamped to that
 * clock + skew, so the host is not frozen as "clock behind" forever. Judged against the recording
 * time, not the clock now, so a clock set back since (RTC reset) is still caught.
 */
export function boundKnownTime(record: UpdateRecord, maxSkewMs: number): { readonly record: UpdateRecord; readonly clamped: ClampedTime | null } {
  const recordedAt = record.lastKnownTimeAt ?? record.lastCheck?.at ?? null;
  if (record.lastKnownTime === null || recordedAt === null || Number.isNaN(Date.parse(recordedAt))) return { record, clamped: null };
  const limit = Date.parse(recordedAt) + maxSkewMs;
  // A record from before lastKnownTimeAt was kept takes its last check's time once, and keeps it: the
  // last check moves on (to a reset clock's time, too), the time the signed one was seen does not.
  if (Date.parse(record.lastKnownTime) <= limit) return { record: { ...record, lastKnownTimeAt: recordedAt }, clamped: null };
  const to = new Date(limit).toISOString();
  return { record: { ...record, lastKnownTime: to, lastKnownTimeAt: recordedAt }, clamped: { from: record.lastKnownTime, to, recordedAt } };
}

function hours(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${Math.round(ms / 1000)}s`;
}
