// The health gate after booting a new slot: healthy once systemd has reached multi-user.target
// with none of the critical units failed; unhealthy when a critical unit fails or time runs out.

import type { Clock } from '../../platform/clock.ts';

/** What the gate asks of the service manager (the systemd adapter offers it). */
export interface UnitStates {
  /** active, inactive, failed, activating, … */
  activeState(name: string): Promise<string>;
}

export interface HealthSettings {
  readonly timeoutMs: number;
  readonly pollMs: number;
  /** Units that must not end up failed; slipway-cloudinit.service (the host's workloads) is always one. */
  readonly criticalUnits: readonly string[];
}

export const ALWAYS_CRITICAL = ['slipway-cloudinit.service'] as const;

export type Health = { readonly healthy: true } | { readonly healthy: false; readonly reason: string };

export async function awaitHealthyBoot(systemd: UnitStates, clock: Clock, settings: HealthSettings): Promise<Health> {
  const critical = [...new Set([...ALWAYS_CRITICAL, ...settings.criticalUnits])];
  const deadline = clock.now().getTime() + settings.timeoutMs;
  for (;;) {
    const states = await Promise.all(critical.map(async (unit) => [unit, await systemd.activeState(unit)] as const));
    const failed = states.filter(([, state]) => state === 'failed').map(([unit]) => unit);
    if (failed.length > 0) return { healthy: false, reason: `critical unit${failed.length > 1 ? 's' : ''} failed: ${failed.join(', ')}` };
    const target = await systemd.activeState('multi-user.target');
    if (target === 'active') return { healthy: true };
    if (clock.now().getTime() >= deadline) {
      return { healthy: false, reason: `multi-user.target is ${target} ${Math.round(settings.timeoutMs / 1000)} s after the agent started` };
    }
    await clock.sleep(Math.min(settings.pollMs, Math.max(1, deadline - clock.now().getTime())));
  }
}
