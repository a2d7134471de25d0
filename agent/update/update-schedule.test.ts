// The check schedule: first check soon after start, jittered intervals, backoff after failures.

import { describe, expect, it } from 'vitest';
import { checkByWave, DEFAULT_SCHEDULE, nextCheckDelay } from './update-schedule.ts';

const middle = (): number => 0.5;
const low = (): number => 0;
const high = (): number => 0.999999;

describe('nextCheckDelay', () => {
  it('checks a few minutes after start, spread by the jitter', () => {
    expect(nextCheckDelay({ kind: 'started' }, DEFAULT_SCHEDULE, middle)).toBe(5 * 60_000);
    expect(nextCheckDelay({ kind: 'started' }, DEFAULT_SCHEDULE, low)).toBe(4.5 * 60_000);
    expect(nextCheckDelay({ kind: 'started' }, DEFAULT_SCHEDULE, high)).toBeCloseTo(5.5 * 60_000, -2);
  });
  it('repeats every interval after a success, within the jitter', () => {
    const delays = [low, middle, high].map((r) => nextCheckDelay({ kind: 'succeeded' }, DEFAULT_SCHEDULE, r));
    expect(delays[0]).toBe(54 * 60_000);
    expect(delays[1]).toBe(60 * 60_000);
    expect(delays[2]).toBeLessThanOrEqual(66 * 60_000);
  });
  it('backs off exponentially after failures, never past the regular interval', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 10].map((n) => nextCheckDelay({ kind: 'failed', consecutiveFailures: n }, DEFAULT_SCHEDULE, middle));
    expect(delays).toEqual([1, 2, 4, 8, 16, 32, 60, 60].map((m) => m * 60_000));
  });
});

describe('checkByWave', () => {
  const now = Date.parse('2026-12-03T12:00:00.000Z');
  it('cuts the delay short to the moment a wave opens, and only to a moment still ahead', () => {
    expect(checkByWave(3_600_000, '2026-12-03T12:20:00.000Z', now)).toBe(1_200_000);
    expect(checkByWave(3_600_000, '2026-12-03T15:00:00.000Z', now)).toBe(3_600_000);
    expect(checkByWave(3_600_000, null, now)).toBe(3_600_000);
    // Past (a failed check after the wave opened): the backoff stands, no busy loop.
    expect(checkByWave(240_000, '2026-12-03T12:00:00.000Z', now)).toBe(240_000);
    expect(checkByWave(240_000, '2026-12-03T11:00:00.000Z', now)).toBe(240_000);
  });
});
