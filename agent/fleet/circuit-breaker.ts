// The circuit breaker every agent evaluates before it downloads or reboots into a release: once a
// release's failures reach both a count and a fraction of the hosts that tried it, it is halted
// fleet-wide. An operator's halt holds regardless; an operator's resume forgives earlier failures.

import type { HaltRecord, UpdateOutcome } from './fleet-store.ts';

export interface BreakerSettings {
  /** Failures needed before the breaker trips (at least 1). */
  readonly failures: number;
  /** And the share of the release's outcomes that failed, in (0, 1]. */
  readonly fraction: number;
}

export type BreakerVerdict =
  | { readonly halted: false; readonly failures: number; readonly attempts: number }
  | { readonly halted: true; readonly by: 'breaker' | 'operator'; readonly reason: string; readonly failures: number; readonly attempts: number; readonly trip: boolean };

/**
 * Judges `version` from its outcomes and halt record. `trip` is true when this verdict newly halts it,
 * so the caller writes the halt record (the breaker's halt sticks even when outcomes age out).
 */
export function judgeRelease(version: string, outcomes: readonly UpdateOutcome[], halt: HaltRecord | null, settings: BreakerSettings): BreakerVerdict {
  const since = halt?.state === 'resumed' ? Date.parse(halt.at) : Number.NEGATIVE_INFINITY;
  const counted = outcomes.filter((o) => o.version === version && Date.parse(o.at) > since);
  const failed = counted.filter((o) => o.result !== 'succeeded');
  const failures = failed.length;
  const attempts = counted.length;
  if (halt?.state === 'halted') return { halted: true, by: halt.by, reason: halt.reason, failures, attempts, trip: false };
  if (failures >= settings.failures && failures / attempts >= settings.fraction) {
    const last = failed.at(-1);
    const reason = `${failures} of ${attempts} hosts failed ${version} (last: ${last?.host ?? '?'}, ${last?.result ?? '?'}${last?.reason ? `: ${last.reason}` : ''})`;
    return { halted: true, by: 'breaker', reason, failures, attempts, trip: true };
  }
  return { halted: false, failures, attempts };
}
