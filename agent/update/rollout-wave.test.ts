// The wave function: stable per host and release, uniform over machine ids, unrelated between
// releases; explicit waves and even spreads; a skewed clock moves a host by the skew only.

import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { describeWait, eligibleFrom, rolloutPosition, waveNumber, waveWait } from './rollout-wave.ts';
import type { RolloutSchedule } from '../../images/rollout-schedule.ts';

// Deterministic, so a statistical bound either always holds or never: 128-bit hex ids like
// /etc/machine-id's, and ids that differ only in their last digits (hosts cloned from one image and
// numbered).
const N = 10_000;
const machineIds = Array.from({ length: N }, (_, i) => createHash('sha256').update(`host ${i}`).digest('hex').slice(0, 32));
const sequentialIds = Array.from({ length: N }, (_, i) => `5f0c1e7a9b2d4c3e8f10${i.toString(16).padStart(12, '0')}`);

/** Pearson's chi-square over `k` equal buckets of [0, 1). */
function chiSquare(positions: readonly number[], k: number): number {
  const buckets = new Array<number>(k).fill(0);
  for (const p of positions) buckets[Math.floor(p * k)]! += 1;
  const expected = positions.length / k;
  return buckets.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
}

/** Kolmogorov-Smirnov distance from the uniform distribution on [0, 1). */
function ksDistance(positions: readonly number[]): number {
  const sorted = [...positions].sort((a, b) => a - b);
  return sorted.reduce((d, p, i) => Math.max(d, (i + 1) / sorted.length - p, p - i / sorted.length), 0);
}

function correlation(xs: readonly number[], ys: readonly number[]): number {
  const mean = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [i, x] of xs.entries()) {
    const y = ys[i] ?? 0;
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

describe('rolloutPosition', () => {
  it('is stable for a host and release, the same in every agent version, and within [0, 1)', () => {
    const id = 'b3f1a9c04e2d4c7a9e1f0a2b3c4d5e6f';
    expect(rolloutPosition(id, '1.0.1')).toBe(rolloutPosition(id, '1.0.1'));
    // Fixed: hosts running different agent versions must agree on who goes first.
    expect(rolloutPosition(id, '1.0.1')).toBe(0.5026975522384326);
    expect(rolloutPosition(id, '1.0.2')).toBe(0.8270052243697767);
    for (const m of machineIds) {
      const p = rolloutPosition(m, '1.0.1');
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(1);
    }
  });

  it.each([
    ['random-looking', machineIds],
    ['sequential', sequentialIds],
  ])('is uniform over %s machine ids (chi-square and Kolmogorov-Smirnov at the 0.1%% level)', (_kind, ids) => {
    const positions = ids.map((m) => rolloutPosition(m, '1.0.1'));
    // 19 degrees of freedom: P(chi2 > 43.82) = 0.001.
    expect(chiSquare(positions, 20)).toBeLessThan(43.82);
    // n = 10,000: P(D > 1.949 / sqrt(n)) = 0.001.
    expect(ksDistance(positions)).toBeLessThan(1.949 / Math.sqrt(N));
  });

  it('is unrelated between releases: correlation near 0, and other hosts go first', () => {
    const a = machineIds.map((m) => rolloutPosition(m, '1.0.1'));
    const b = machineIds.map((m) => rolloutPosition(m, '1.0.2'));
    // Independent positions: r has a standard deviation of 1/sqrt(n) = 0.01; 4 of them.
    expect(Math.abs(correlation(a, b))).toBeLessThan(4 / Math.sqrt(N));
    const firstA = new Set(machineIds.filter((_m, i) => (a[i] ?? 1) < 0.1));
    const firstB = machineIds.filter((_m, i) => (b[i] ?? 1) < 0.1);
    const both = firstB.filter((m) => firstA.has(m)).length;
    // About 10% of one release's first wave is in the next one's (1% of all hosts); binomial(1000, 0.1) within 4 sigma.
    expect(both / firstA.size).toBeGreaterThan(0.1 - 4 * Math.sqrt(0.09 / firstA.size));
    expect(both / firstA.size).toBeLessThan(0.1 + 4 * Math.sqrt(0.09 / firstA.size));
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


describe('waveWait', () => {
  const waves: RolloutSchedule = {
    waves: [
      { at: '2026-12-03T00:00:00.000Z', fraction: 0.1 },
      { at: '2026-12-03T06:00:00.000Z', fraction: 0.5 },
      { at: '2026-12-04T00:00:00.000Z', fraction: 1 },
    ],
  };
  const spread: RolloutSchedule = { start: '2026-12-03T00:00:00.000Z', durationSeconds: 86_400 };
  const id = 'b3f1a9c04e2d4c7a9e1f0a2b3c4d5e6f';

  it('says until when a host waits, in which wave, and nothing once its moment has come', () => {
    // Position 0.5027: the third wave.
    const wait = waveWait(waves, id, '1.0.1', new Date('2026-12-03T07:00:00Z'));
    expect(wait).toEqual({ version: '1.0.1', until: '2026-12-04T00:00:00.000Z', position: 0.5026975522384326, wave: 3, waves: 3 });
    expect(describeWait(wait!)).toBe('1.0.1 waits for its wave until 2026-12-04T00:00:00.000Z (wave 3 of 3)');
    expect(waveWait(waves, id, '1.0.1', new Date('2026-12-04T00:00:00Z'))).toBeNull();
    const spreadWait = waveWait(spread, id, '1.0.1', new Date('2026-12-03T00:00:00Z'));
    expect(spreadWait?.until).toBe(eligibleFrom(spread, 0.5026975522384326).toISOString());
    expect(describeWait(spreadWait!)).toBe(`1.0.1 waits for its wave until ${spreadWait?.until ?? ''} (at 50.3% of an even spread)`);
  });

  it.each([
    ['waves', waves],
    ['an even spread', spread],
  ])('with %s, a clock off by up to five minutes moves the moment a host acts by exactly that, and never its wave', (_kind, schedule) => {
    for (const m of machineIds.slice(0, 500)) {
      const truth = eligibleFrom(schedule, rolloutPosition(m, '1.0.1')).getTime();
      const wave = waveNumber(schedule, rolloutPosition(m, '1.0.1'));
      for (let skewMs = -5 * 60_000; skewMs <= 5 * 60_000; skewMs += 60_000) {
        // The host reads true time + skew: a millisecond before true time T - skew it still waits, at T - skew it goes.
        const hostClock = (trueMs: number): Date => new Date(trueMs + skewMs);
        const before = waveWait(schedule, m, '1.0.1', hostClock(truth - skewMs - 1));
        expect(before?.until).toBe(new Date(truth).toISOString());
        expect(before?.wave).toBe(wave);
        expect(waveWait(schedule, m, '1.0.1', hostClock(truth - skewMs))).toBeNull();
      }
    }
  });
});
