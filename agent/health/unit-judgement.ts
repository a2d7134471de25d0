// How one unit's state reads for the health gate: ok (active; or ran and exited successfully; or
// skipped by its own condition), pending (starting, crash-looping, never started) or failed.

import type { UnitState } from './health-ports.ts';

export interface UnitJudgement {
  readonly state: 'ok' | 'pending' | 'failed';
  readonly reason: string;
}

function restarts(n: number | null): string {
  return n === null ? '' : `, ${n} restart${n === 1 ? '' : 's'}`;
}

/**
 * `failed` is final: systemd restarts nothing that is failed (a Restart= loop shows as activating,
 * auto-restart). Everything not ok or failed may still come good, so it is pending until the deadline.
 */
export function judgeUnit(s: UnitState): UnitJudgement {
  if (s.loadState === 'masked') return { state: 'failed', reason: 'masked' };
  if (s.loadState === 'not-found') return { state: 'pending', reason: 'not found (no unit file)' };
  if (s.loadState !== 'loaded') return { state: 'pending', reason: `not loaded (${s.loadState})` };
  if (s.activeState === 'active' || s.activeState === 'reloading') return { state: 'ok', reason: `${s.activeState} (${s.subState})${restarts(s.nRestarts === 0 ? null : s.nRestarts)}` };
  if (s.activeState === 'failed') return { state: 'failed', reason: `failed (${s.result ?? s.subState})${restarts(s.nRestarts === 0 ? null : s.nRestarts)}` };
  if (s.subState === 'auto-restart' || (s.nRestarts ?? 0) > 0) return { state: 'pending', reason: `crash-looping: ${s.subState}${restarts(s.nRestarts)}` };
  if (s.activeState === 'inactive') {
    // systemd skipped it on purpose: its Condition*= did not hold on this host.
    if (s.condition === 'failed') return { state: 'ok', reason: 'skipped: its condition was not met' };
    // A oneshot without RemainAfterExit (or anything that ran and exited 0) goes back to inactive.
    if (s.started && (s.result === null || s.result === 'success')) return { state: 'ok', reason: 'exited successfully' };
    if (s.started) return { state: 'failed', reason: `stopped (${s.result})` };
    return { state: 'pending', reason: `never started (${s.activeState}, ${s.subState})` };
  }
  return { state: 'pending', reason: `${s.activeState} (${s.subState})` };
}
