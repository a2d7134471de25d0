// The wave function: stable per host and release, uniform over machine ids, unrelated between
// releases; explicit waves and even spreads; a skewed clock moves a host by the skew only.

import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { eligibleFrom, rolloutPosition, scheduleProblem, waveNumber } from './rollout-wave.ts';
import type { RolloutSchedule } from './rollout-wave.ts';

const machineIds = Array.from({ length: 20_000 }, () => randomBytes(16).toString('hex'));

describe('rolloutPosition', () => {
  it('is stable for a host and release, and within [0, 1)', () => {
    const id = 'b3f1a9c04e2d4c7a9e1f0a2b3c4d5e6f';
    expect(rolloutPosition(id, '1.0.1')).toBe(rolloutPosition(id, '1.0.1'));
    for (const m of machineIds.slice(0, 1000)) {
      const p = rolloutPosition(m, '1.0.1');
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(1);
    }
  });

  it('is uniform over machine ids (chi-square over 20 buckets, far below the 0.1% critical value)', () => {
    const buckets = new Array<number>(20).fill(0);
    for (const m of machineIds) buckets[Math.floor(rolloutPosition(m, '1.0.1') * 20)]! += 1;
    const expected = machineIds.length / 20;
    const chiSquare = buckets.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    // 19 degrees of freedom: P(chi2 > 43.8) = 0.001.
    expect(chiSquare).toBeLessThan(43.8);
  });

  it('puts different hosts first for the next release', () => {
    const first = (version: string): Set<string> => new Set(machineIds.filter((m) => rolloutPosition(m, version) < 0.1));
    const a = first('1.0.1');
    const b = first('1.0.2');
    const both = [...a].filter((m) => b.has(m)).length;
    // Unrelated: about 10% of the first wave of one release is in the first wave of the next (1% of all hosts).
    expect(both / a.size).toBeGreaterThan(0.05);
    expect(both / a.size).toBeLessThan(0.15);
  });
});

describe('eligibleFrom', () => {
  const spread: RolloutSchedule = { start: '2026-12-03T00:00:00Z', durationSeconds: 86_400 };
  const waves: RolloutSchedule = {
    waves: [
      { at: '2026-12-03T00:00:00Z', fraction: 0.01 },
      { at: '2026-12-03T06:00:00Z', fraction: 0.1 },
      { at: '2026-12-04T00:00:00Z', fraction: 1 },
    ],
  };

  it('spreads hosts evenly over the rollout', () => {
    expect(eligibleFrom(spread, 0).toISOString()).toBe('2026-12-03T00:00:00.000Z');
    expect(eligibleFrom(spread, 0.5).toISOString()).toBe('2026-12-03T12:00:00.000Z');
    expect(eligibleFrom(spread, 0.999999).getTime()).toBeLessThan(Date.parse('2026-12-04T00:00:00Z'));
  });

  it('gives each host the first wave whose fraction exceeds its place', () => {
    expect([0, 0.009, 0.01, 0.05, 0.1, 0.99].map((p) => [eligibleFrom(waves, p).toISOString(), waveNumber(waves, p)])).toEqual([
      ['2026-12-03T00:00:00.000Z', 1],
      ['2026-12-03T00:00:00.000Z', 1],
      ['2026-12-03T06:00:00.000Z', 2],
      ['2026-12-03T06:00:00.000Z', 2],
      ['2026-12-04T00:00:00.000Z', 3],
      ['2026-12-04T00:00:00.000Z', 3],
    ]);
  });

  it('with clocks off by up to five minutes, the hosts that go by a true time are exactly those due within five minutes of it', () => {
    const skewMs = 5 * 60_000;
    const at = Date.parse('2026-12-03T09:00:00Z');
    // Each host judges by its own clock (true time + its skew), against an instant fixed by the signed schedule.
    const skews = machineIds.map((_m, i) => ((i % 11) - 5) * 60_000);
    const going = machineIds.filter((m, i) => at + (skews[i] ?? 0) >= eligibleFrom(spread, rolloutPosition(m, '1.0.1')).getTime());
    const dueBy = (t: number): Set<string> => new Set(machineIds.filter((m) => eligibleFrom(spread, rolloutPosition(m, '1.0.1')).getTime() <= t));
    const dueLate = dueBy(at + skewMs);
    const goingSet = new Set(going);
    expect(going.every((m) => dueLate.has(m))).toBe(true);
    expect([...dueBy(at - skewMs)].every((m) => goingSet.has(m))).toBe(true);
    expect(going.length).toBeGreaterThan(0);
  });
});

describe('scheduleProblem', () => {
  it('accepts sound schedules and names what is wrong with others', () => {
    expect(scheduleProblem({ start: '2026-12-03T00:00:00Z', durationSeconds: 3600 })).toBeNull();
    expect(scheduleProblem({ start: 'soon', durationSeconds: 3600 })).toBe('rollout.start must be an ISO 8601 time');
    expect(scheduleProblem({ start: '2026-12-03T00:00:00Z', durationSeconds: 0 })).toBe('rollout.durationSeconds must be a positive whole number');
    expect(scheduleProblem({ waves: [] })).toBe('rollout.waves must name at least one wave');
    expect(scheduleProblem({ waves: [{ at: '2026-12-03T00:00:00Z', fraction: 0.5 }] })).toBe('rollout.waves must end with fraction 1 (every host)');
    expect(scheduleProblem({ waves: [{ at: '2026-12-03T00:00:00Z', fraction: 0.5 }, { at: '2026-12-03T01:00:00Z', fraction: 0.4 }] })).toBe('rollout.waves[1].fraction must grow and be at most 1');
    expect(scheduleProblem({ waves: [{ at: '2026-12-03T02:00:00Z', fraction: 0.5 }, { at: '2026-12-03T01:00:00Z', fraction: 1 }] })).toBe('rollout.waves[1].at must not come before the wave above it');
  });
});
