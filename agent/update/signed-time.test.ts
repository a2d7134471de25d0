// Signed times against the host's clock: a far-future `created` is refused and never becomes the
// newest time seen; a poisoned stored time is clamped; a clock set back (RTC reset) is still caught.

import { describe, expect, it } from 'vitest';
import { decide } from './update-policy.ts';
import { boundKnownTime, raiseKnownTime } from './signed-time.ts';
import { INITIAL_RECORD } from './update-state.ts';
import type { ReleaseManifest } from '../../images/release-manifest.ts';

const HOUR = 3_600_000;
const now = new Date('2026-11-15T00:00:00.000Z');
const at = (offsetMs: number): string => new Date(now.getTime() + offsetMs).toISOString();
const manifest = (created: string): ReleaseManifest => ({
  format: 1,
  channel: 'stable',
  version: '1.0.1',
  created,
  expires: '2099-12-01T00:00:00.000Z',
  arch: 'x86_64',
  board: 'qemu',
  payload: { url: 'p', compression: 'zstd', size: 1, sha256: '0'.repeat(64), imageSize: 1, imageSha256: '0'.repeat(64), chunkSize: 1, chunks: [1] },
});
const host = { channel: 'stable', arch: 'x86_64', board: 'qemu', bootedVersion: '1.0.0' };

describe('signed times', () => {
  it('refuses a `created` further ahead of the clock than the skew, and takes one within it', () => {
    expect(() => decide(manifest(at(25 * HOUR)), host, INITIAL_RECORD, now)).toThrow(expect.objectContaining({ code: 'ERR_MANIFEST_FROM_FUTURE' }));
    expect(() => decide(manifest('2099-01-01T00:00:00.000Z'), host, INITIAL_RECORD, now)).toThrow('more than 24h ahead of this host\'s clock');
    expect(decide(manifest(at(23 * HOUR)), host, INITIAL_RECORD, now).action).toBe('install');
    expect(() => decide(manifest(at(2 * HOUR)), host, INITIAL_RECORD, now, HOUR)).toThrow(expect.objectContaining({ code: 'ERR_MANIFEST_FROM_FUTURE' }));
  });

  it('a time taken within the skew never makes a later, correct clock "behind"', () => {
    const raised = raiseKnownTime(INITIAL_RECORD, at(24 * HOUR), now);
    expect(raised).toMatchObject({ lastKnownTime: at(24 * HOUR), lastKnownTimeAt: now.toISOString() });
    expect(decide(manifest(now.toISOString()), host, raised, now).action).toBe('install');
    // An older signed time does not lower it.
    expect(raiseKnownTime(raised, at(-HOUR), now)).toBe(raised);
  });

  it('clamps a stored time that was already beyond the skew when it was recorded, then updates go on', () => {
    const poisoned = { ...INITIAL_RECORD, lastKnownTime: '2099-01-01T00:00:00.000Z', lastKnownTimeAt: at(-HOUR) };
    expect(() => decide(manifest(now.toISOString()), host, poisoned, now)).toThrow(expect.objectContaining({ code: 'ERR_CLOCK_BEHIND' }));
    const { record, clamped } = boundKnownTime(poisoned, 24 * HOUR);
    expect(clamped).toEqual({ from: '2099-01-01T00:00:00.000Z', to: at(23 * HOUR), recordedAt: at(-HOUR) });
    expect(record).toMatchObject({ lastKnownTime: at(23 * HOUR), lastKnownTimeAt: at(-HOUR) });
    expect(decide(manifest(now.toISOString()), host, record, now).action).toBe('install');
  });

  it('in a record from before lastKnownTimeAt, judges by the last check, and keeps that time once taken', () => {
    const legacy = { ...INITIAL_RECORD, lastKnownTime: '2099-01-01T00:00:00.000Z', lastCheck: { at: at(-HOUR), result: 'error ERR_CLOCK_BEHIND' } };
    expect(boundKnownTime(legacy, 24 * HOUR).record.lastKnownTime).toBe(at(23 * HOUR));
    const sane = { ...legacy, lastKnownTime: at(-2 * HOUR) };
    expect(boundKnownTime(sane, 24 * HOUR)).toEqual({ record: { ...sane, lastKnownTimeAt: at(-HOUR) }, clamped: null });
  });

  it('still refuses updates after an RTC reset: the clock now is far behind, but the stored time was sane when recorded', () => {
    const seen = raiseKnownTime(INITIAL_RECORD, at(-HOUR), now);
    // Later checks under the reset clock move lastCheck to 1970; the recording time stays.
    const reset = new Date('1970-01-02T00:00:00.000Z');
    const afterChecks = { ...seen, lastCheck: { at: reset.toISOString(), result: 'error ERR_CLOCK_BEHIND' } };
    const { record, clamped } = boundKnownTime(afterChecks, 24 * HOUR);
    expect(clamped).toBeNull();
    expect(() => decide(manifest(at(-HOUR)), host, record, reset)).toThrow(expect.objectContaining({ code: 'ERR_CLOCK_BEHIND' }));
  });
});
