// The breaker's verdict: a count and a fraction of failures trip it; an operator's halt holds; an
// operator's resume forgives failures before it; other versions' outcomes do not count.

import { describe, expect, it } from 'vitest';
import { judgeRelease } from './circuit-breaker.ts';
import type { HaltRecord, OutcomeResult, UpdateOutcome } from './fleet-store.ts';

const settings = { failures: 2, fraction: 0.2 };
let clock = Date.parse('2026-12-03T10:00:00Z');
const outcome = (host: string, result: OutcomeResult, version = '1.0.2'): UpdateOutcome => ({
  machineId: `id-${host}`,
  host,
  version,
  from: '1.0.1',
  result,
  reason: result === 'succeeded' ? null : 'app.service crash-looping',
  at: new Date((clock += 60_000)).toISOString(),
});

describe('judgeRelease', () => {
  it('stays closed below the count, and trips when both the count and the fraction are reached', () => {
    expect(judgeRelease('1.0.2', [outcome('a', 'gate-failed')], null, settings)).toEqual({ halted: false, failures: 1, attempts: 1 });
    const two = [outcome('a', 'gate-failed'), outcome('b', 'boot-failed')];
    expect(judgeRelease('1.0.2', two, null, settings)).toEqual({
      halted: true,
      by: 'breaker',
      reason: '2 of 2 hosts failed 1.0.2 (last: b, boot-failed: app.service crash-looping)',
      failures: 2,
      attempts: 2,
      trip: true,
    });
  });

  it('stays closed while the failures are a small share of many successes', () => {
    const many = [...Array.from({ length: 18 }, (_v, i) => outcome(`ok-${i}`, 'succeeded')), outcome('x', 'gate-failed'), outcome('y', 'apply-failed')];
    expect(judgeRelease('1.0.2', many, null, settings)).toEqual({ halted: false, failures: 2, attempts: 20 });
    const more = [...many, outcome('z1', 'gate-failed'), outcome('z2', 'gate-failed')];
    expect(judgeRelease('1.0.2', more, null, settings)).toEqual({ halted: false, failures: 4, attempts: 22 });
    expect(judgeRelease('1.0.2', [...more, outcome('z3', 'gate-failed')], null, settings)).toMatchObject({ halted: true, failures: 5, attempts: 23 });
  });

  it("counts only the release's own outcomes", () => {
    expect(judgeRelease('1.0.3', [outcome('a', 'gate-failed'), outcome('b', 'gate-failed')], null, settings)).toEqual({ halted: false, failures: 0, attempts: 0 });
  });

  it("holds an operator's halt whatever the outcomes, and does not trip it again", () => {
    const halt: HaltRecord = { version: '1.0.2', state: 'halted', by: 'operator', reason: 'halted by ops@example', at: '2026-12-03T09:00:00Z' };
    expect(judgeRelease('1.0.2', [], halt, settings)).toEqual({ halted: true, by: 'operator', reason: 'halted by ops@example', failures: 0, attempts: 0, trip: false });
  });

  it("forgives the failures before an operator's resume, and trips again on new ones", () => {
    const before = [outcome('a', 'gate-failed'), outcome('b', 'gate-failed')];
    const resume: HaltRecord = { version: '1.0.2', state: 'resumed', by: 'operator', reason: 'fixed the registry', at: new Date((clock += 60_000)).toISOString() };
    expect(judgeRelease('1.0.2', before, resume, settings)).toEqual({ halted: false, failures: 0, attempts: 0 });
    const after = [...before, outcome('c', 'gate-failed'), outcome('d', 'gate-failed')];
    expect(judgeRelease('1.0.2', after, resume, settings)).toMatchObject({ halted: true, by: 'breaker', failures: 2, attempts: 2, trip: true });
  });
});
