// When the agent checks for updates next: a first check a few minutes after start, then periodic
// with jitter so a fleet does not hit the server in step, and exponential backoff after failures.
// Pure: the daemon sleeps on its Clock for the returned delay.

export interface ScheduleSettings {
  readonly firstCheckMs: number;
  readonly intervalMs: number;
  /** Fraction of the interval added or taken at random: 0.1 spreads checks by plus or minus 10%. */
  readonly jitter: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

export const DEFAULT_SCHEDULE: ScheduleSettings = {
  firstCheckMs: 5 * 60_000,
  intervalMs: 60 * 60_000,
  jitter: 0.1,
  backoffBaseMs: 60_000,
  backoffMaxMs: 4 * 60 * 60_000,
};

export type CheckHistory = { readonly kind: 'started' } | { readonly kind: 'succeeded' } | { readonly kind: 'failed'; readonly consecutiveFailures: number };

/** Milliseconds until the next check; `random` is in [0, 1). */
export function nextCheckDelay(history: CheckHistory, settings: ScheduleSettings, random: () => number): number {
  const spread = (base: number): number => Math.round(base * (1 + settings.jitter * (2 * random() - 1)));
  switch (history.kind) {
    case 'started':
      return spread(settings.firstCheckMs);
    case 'succeeded':
      return spread(settings.intervalMs);
    case 'failed': {
      const backoff = Math.min(settings.backoffMaxMs, settings.backoffBaseMs * 2 ** Math.max(0, history.consecutiveFailures - 1));
      // Never wait longer than a regular interval would, once backoff has grown past it.
      return spread(Math.min(backoff, Math.max(settings.intervalMs, settings.backoffBaseMs)));
    }
  }
}

/**
 * `delayMs`, cut short so the next check comes at `until` (the moment a release's rollout reaches this
 * host) when that is sooner; a moment already past leaves the delay (and any backoff) as it is.
 */
export function checkByWave(delayMs: number, until: string | null, nowMs: number): number {
  const left = until === null ? Number.NaN : Date.parse(until) - nowMs;
  return left > 0 ? Math.min(delayMs, left) : delayMs;
}
