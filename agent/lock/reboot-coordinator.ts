// Decides when a host with a staged update may reboot: inside a reboot window, holding a place in
// the fleet's semaphore (per strategy), re-checked immediately before rebooting; and gives the place
// back after the new boot was marked good, retrying until the backend confirms. Time, the lock and
// the reboot itself are ports, so every path runs under a test clock.

import { causeChain, errorCode } from '../../platform/coded-error.ts';
import { jitteredBackoff } from '../../platform/backoff.ts';
import { nextOpening, openWindowAt } from './reboot-window.ts';
import type { Clock } from '../../platform/clock.ts';
import type { HolderRecord, RebootLock } from './lock-backend.ts';
import type { RebootWindows } from './reboot-window.ts';

export type RebootStrategy = 'etcd-lock' | 'fleet-lock' | 'reboot' | 'best-effort' | 'off';

/** Reboots the host; resolves only if the reboot was refused (it normally never returns). */
export interface Rebooter {
  reboot(): Promise<void>;
}

export interface CoordinatorDeps {
  readonly strategy: RebootStrategy;
  readonly windows: RebootWindows;
  /** The lock for etcd-lock, fleet-lock and best-effort; unused for reboot and off. */
  readonly lock: RebootLock | null;
  /** Whether the lock already holds this id (etcd); null where the backend cannot tell (FleetLock). */
  readonly holds: ((id: string) => Promise<boolean>) | null;
  readonly rebooter: Rebooter;
  readonly clock: Clock;
  readonly random: () => number;
  readonly backoff: { readonly baseMs: number; readonly maxMs: number };
  readonly log: (fields: Record<string, unknown>, message: string) => void;
}

export type CoordinatorOutcome = { readonly kind: 'off' } | { readonly kind: 'rebooting'; readonly locked: boolean };

function delay(attempt: number, deps: Pick<CoordinatorDeps, 'random' | 'backoff'>): number {
  return Math.max(1, jitteredBackoff(attempt, deps.backoff.baseMs, deps.backoff.maxMs, deps.random));
}

async function waitForWindow(deps: CoordinatorDeps): Promise<void> {
  const now = deps.clock.now().getTime();
  const opens = nextOpening(deps.windows, now);
  if (opens > now) {
    deps.log({ opens: new Date(opens).toISOString() }, 'waiting for the reboot window');
    await deps.clock.sleep(opens - now);
  }
}

/** Takes a place (when the strategy wants one) inside a window, then reboots. */
export async function coordinateReboot(deps: CoordinatorDeps, record: HolderRecord): Promise<CoordinatorOutcome> {
  if (deps.strategy === 'off') {
    deps.log({}, 'reboot strategy is off: the update is staged; an operator reboots');
    return { kind: 'off' };
  }
  for (let attempt = 0; ; attempt++) {
    await waitForWindow(deps);
    if (deps.strategy === 'reboot' || deps.lock === null) {
      await deps.rebooter.reboot();
      return { kind: 'rebooting', locked: false };
    }
    let result;
    try {
      result = deps.lock.acquireWhenFree ? await deps.lock.acquireWhenFree(record) : await deps.lock.acquire(record);
    } catch (error) {
      if (deps.strategy === 'best-effort') {
        deps.log({ code: errorCode(error), error: causeChain(error) }, 'lock backend unreachable; best-effort reboots without it');
        await deps.rebooter.reboot();
        return { kind: 'rebooting', locked: false };
      }
      deps.log({ code: errorCode(error), error: causeChain(error), attempt }, 'cannot reach the lock backend; not rebooting, will retry');
      await deps.clock.sleep(delay(attempt, deps));
      continue;
    }
    if (result.kind === 'full') {
      deps.log({ holders: result.holders, reason: result.reason }, 'reboot lock is full; waiting');
      await deps.clock.sleep(delay(attempt, deps));
      continue;
    }
    // The lock may have come after the window closed: give it back and wait for the next one.
    if (!openWindowAt(deps.windows, deps.clock.now().getTime())) {
      await releaseUntilConfirmed(deps, record.id);
      continue;
    }
    // Re-check immediately before rebooting: an operator may have unlocked us meanwhile.
    if (deps.holds && !(await deps.holds(record.id))) {
      deps.log({ id: record.id }, 'lost the reboot lock before rebooting; trying again');
      continue;
    }
    await deps.rebooter.reboot();
    return { kind: 'rebooting', locked: true };
  }
}

/** After the health gate (or a completed rollback): give the place back, retrying until confirmed. */
export async function releaseUntilConfirmed(deps: Pick<CoordinatorDeps, 'lock' | 'clock' | 'random' | 'backoff' | 'log'>, id: string): Promise<'released' | 'not-held'> {
  if (deps.lock === null) return 'not-held';
  for (let attempt = 0; ; attempt++) {
    try {
      return await deps.lock.release(id);
    } catch (error) {
      deps.log({ code: errorCode(error), error: causeChain(error), attempt }, 'could not release the reboot lock; retrying');
      await deps.clock.sleep(delay(attempt, deps));
    }
  }
}
