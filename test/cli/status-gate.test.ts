// What `slipway status` prints about the health gate: nothing for a clean pass, else the outcome and
// a line per failed, pre-existing or pending unit and probe.

import { describe, expect, it } from 'vitest';
import { formatGate, formatStatus } from '../../agent/cli/status-command.ts';
import { BREAKER_OFF, idleStatus } from '../builders/agent-status.ts';
import type { GateVerdict } from '../../agent/health/gate-verdict.ts';

const OK = { source: 'workload', activeState: 'active', subState: 'running', result: 'success', restarts: 0, verdict: 'ok', reason: 'active (running)' } as const;

function gate(over: Partial<GateVerdict>): GateVerdict {
  return { kind: 'gate', version: '1.0.2', baselineVersion: '1.0.0', healthy: true, reason: null, startedAt: '2026-11-22T12:00:00.000Z', finishedAt: '2026-11-22T12:05:00.000Z', target: 'active', units: [{ ...OK, name: 'app.service' }], probes: [], ...over };
}

describe('slipway status: the health gate', () => {
  it('prints nothing for a gate that passed with everything healthy, or for none', () => {
    expect(formatGate(gate({}))).toEqual([]);
    expect(formatGate(null)).toEqual([]);
    expect(formatGate(undefined)).toEqual([]);
  });

  it('prints a failed gate with each failing and pre-existing item, failed first', () => {
    const failed = gate({
      healthy: false,
      reason: 'app.service crash-looping: auto-restart, 4 restarts',
      units: [
        { ...OK, name: 'legacy.service', verdict: 'pre-existing', reason: 'failed (exit-code) (already so on 1.0.0)' },
        { ...OK, name: 'app.service', activeState: 'activating', subState: 'auto-restart', restarts: 4, verdict: 'failed', reason: 'crash-looping: auto-restart, 4 restarts' },
      ],
      probes: [{ name: 'api', kind: 'http', verdict: 'failed', reason: 'HTTP 503 from http://127.0.0.1:8080/', attempts: 150 }],
    });
    expect(formatGate(failed)).toEqual([
      'Health gate: 1.0.2 failed at 2026-11-22T12:05:00.000Z',
      '  app.service: failed: crash-looping: auto-restart, 4 restarts',
      '  probe api: failed: HTTP 503 from http://127.0.0.1:8080/',
      '  legacy.service: pre-existing: failed (exit-code) (already so on 1.0.0)',
    ]);
    expect(formatStatus({ ...idleStatus(), lock: null, firstBoot: null, rebootHooks: [], lastGate: failed, breaker: BREAKER_OFF, verity: null })).toContain('\nHealth gate: 1.0.2 failed at 2026-11-22T12:05:00.000Z\n  app.service: failed: crash-looping');
  });

  it('prints a running gate with what it still waits for', () => {
    expect(formatGate(gate({ healthy: null, finishedAt: null, units: [{ ...OK, name: 'app.service', activeState: 'inactive', subState: 'dead', verdict: 'pending', reason: 'never started (inactive, dead)' }] }))).toEqual([
      'Health gate: 1.0.2 running since 2026-11-22T12:00:00.000Z',
      '  app.service: pending: never started (inactive, dead)',
    ]);
  });
});
