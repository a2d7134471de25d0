// Hosts' reports and outcomes as agents write them into the fleet store, for the fleet overview's,
// `slipway fleet`'s and the fleet view's tests.

import type { HostReport, UpdateOutcome } from '../../agent/fleet/fleet-store.ts';

/** A host at `version` on USR-A, idle and confirmed, last seen `at`; `over` replaces any field. */
export function hostReport(host: string, version: string, at: string, over: Partial<HostReport> = {}): HostReport {
  return { machineId: `id-${host}`, host, version, slot: 'USR-A', activity: 'idle', health: 'confirmed', staged: null, waitingForWave: null, at, ...over };
}

/** `host`'s attempt at `version` from 1.0.0; failures carry a reason as the agent words it. */
export function updateOutcome(host: string, version: string, result: UpdateOutcome['result'], at: string, reason: string | null = result === 'succeeded' ? null : 'app.service crash-looping'): UpdateOutcome {
  return { machineId: `id-${host}`, host, version, from: '1.0.0', result, reason, at };
}
