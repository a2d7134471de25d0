// Decides when a host with a staged update may reboot: inside a reboot window, holding a place in
// the fleet's semaphore (per strategy) whose lease is kept alive while it is held, once logind's block
// inhibitors are gone (for a bounded time) and the operator's reboot.before hooks ran, and only after
// etcd confirms the place again right before the slot is armed and right before the reboot call. Gives the place back after the new boot was
// marked good, retrying until the backend confirms. Time, the lock, the keeper and the reboot itself
// are ports, so every path runs under a test clock.

import { causeChain, errorCode } from '../../platform/coded-error.ts';
import { jitteredBackoff } from '../../platform/backoff.ts';
import { nextOpening, openWindowAt } from './reboot-window.ts';
import type { Clock } from '../../platform/clock.ts';
import type { HolderRecord, RebootLock } from './lock-backend.ts';
import type { PlaceKeeper } from './place-keeper.ts';
import type { RebootWindows } from './reboot-window.ts';

export type RebootStrategy = 'etcd-lock' | 'fleet-lock' | 'reboot' | 'best-effort' | 'off';

export interface Rebooter {
  /** Who holds a block inhibitor on shutdown now ("who (why)"); empty when a reboot would go ahead. */
  blockers(): Promise<readonly string[]>;
  /** Reboots the host; resolves only if the reboot was refused (it normally never returns). */
  reboot(): Promise<void>;
}

export interface CoordinatorDeps {
  readonly strategy: RebootStrategy;
  readonly windows: RebootWindows;
  /** The lock for etcd-lock, fleet-lock and best-effort; unused for reboot and off. */
  readonly lock: RebootLock | null;
  /** Keeps a held place alive in the background until stopped; null where the backend has no leases (FleetLock). */
  readonly keepPlace: ((record: HolderRecord) => PlaceKeeper) | null;
  readonly rebooter: Rebooter;
  /** How long to wait for block inhibitors before giving the place back and trying later; null: reboot regardless (an operator's --ignore-inhibitors). */
  readonly inhibitorWaitMs: number | null;
  readonly inhibitorPollMs: number;
  readonly clock: Clock;
  readonly random: () => number;
  readonly backoff: { readonly baseMs: number; readonly maxMs: number };
  readonly log: (fields: Record<string, unknown>, message: string) => void;
  /**
   * The operator's reboot.before hooks, run holding the place (when there is one), right before the
   * slot is armed: null when they all succeeded, else why not. A failure postpones the reboot and
   * gives the place back. Absent: no hooks.
   */
  readonly beforeReboot?: () => Promise<string | null>;
}

export type CoordinatorOutcome = { readonly kind: 'off' } | { readonly kind: 'rebooting'; readonly locked: boolean };

/** Making the staged slot the next boot (`arm`), and taking that back when the place is lost before the reboot call (`disarm`). */
export interface Arming {
  arm(): Promise<void>;
  disarm(): Promise<void>;
}

const NOTHING_TO_ARM: Arming = { arm: () => Promise.resolve(), disarm: () => Promise.resolve() };

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

/** Waits until no block inhibitor holds the reboot back; false when inhibitorWaitMs ran out first (or the keeper lost the place). */
async function waitForInhibitors(deps: CoordinatorDeps, keeper: PlaceKeeper | null): Promise<boolean> {
  if (deps.inhibitorWaitMs === null) return true;
  const until = deps.clock.now().getTime() + deps.inhibitorWaitMs;
  for (;;) {
    const blocking = await deps.rebooter.blockers();
    if (blocking.length === 0) return true;
    if (keeper?.lost === true) return false;
    const left = until - deps.clock.now().getTime();
    if (left <= 0) {
      deps.log({ inhibitors: blocking, waitedMs: deps.inhibitorWaitMs }, `block inhibitors held the reboot back for the whole inhibitor wait: ${blocking.join(', ')}`);
      return false;
    }
    deps.log({ inhibitors: blocking }, `reboot waits for ${blocking.join(', ')}`);
    await deps.clock.sleep(Math.min(deps.inhibitorPollMs, left));
  }
}

/**
 * Whether the place is still this host's, by the backend's answer now (etcd: read and lease renewed).
 * A backend that cannot tell (FleetLock) is taken at its word; one that does not answer is not.
 */
async function stillHeld(deps: CoordinatorDeps, record: HolderRecord, when: string): Promise<boolean> {
  if (deps.lock?.keep === undefined) return true;
  try {
    if ((await deps.lock.keep(record)) === 'held') return true;
    deps.log({ id: record.id }, `lost the reboot lock ${when}: not rebooting; asking for a place again`);
  } catch (error) {
    deps.log({ code: errorCode(error), error: causeChain(error) }, `cannot confirm the reboot lock ${when}: not rebooting; asking again`);
  }
  return false;
}

/**
 * Takes a place (when the strategy wants one) inside a window, waits for block inhibitors holding it,
 * arms the staged slot once etcd confirms the place, confirms it again and reboots. A place lost
 * between arming and the reboot call disarms the slot before asking again: no later reboot, for
 * whatever reason, may boot it without the lock.
 */
export async function coordinateReboot(deps: CoordinatorDeps, record: HolderRecord, arming: Arming = NOTHING_TO_ARM): Promise<CoordinatorOutcome> {
  if (deps.strategy === 'off') {
    deps.log({}, 'reboot strategy is off: the update is staged; an operator reboots');
    return { kind: 'off' };
  }
  for (let attempt = 0; ; attempt++) {
    await waitForWindow(deps);
    if (deps.strategy === 'reboot' || deps.lock === null) {
      if (!(await waitForInhibitors(deps, null)) || !(await hooksPassed(deps))) {
        await deps.clock.sleep(delay(attempt, deps));
        continue;
      }
      await arming.arm();
      await deps.rebooter.reboot();
      return { kind: 'rebooting', locked: false };
    }
    let result;
    try {
      result = deps.lock.acquireWhenFree ? await deps.lock.acquireWhenFree(record) : await deps.lock.acquire(record);
    } catch (error) {
      if (deps.strategy === 'best-effort') {
        deps.log({ code: errorCode(error), error: causeChain(error) }, 'lock backend unreachable; best-effort reboots without it');
        if (!(await hooksPassed(deps))) {
          await deps.clock.sleep(delay(attempt, deps));
          continue;
        }
        await arming.arm();
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
    const keeper = deps.keepPlace?.(record) ?? null;
    try {
      // The lock may have come after the window closed: give it back and wait for the next one.
      if (!openWindowAt(deps.windows, deps.clock.now().getTime())) {
        await releaseUntilConfirmed(deps, record.id);
        continue;
      }
      if (!(await waitForInhibitors(deps, keeper))) {
        // Holding the fleet's place while something on this host blocks the reboot stops every other
        // host: give it back and ask again later.
        if (keeper?.lost !== true) {
          deps.log({}, 'giving the reboot lock back while inhibitors block the reboot; will ask again');
          await releaseUntilConfirmed(deps, record.id);
        }
        await deps.clock.sleep(delay(attempt, deps));
        continue;
      }
      if (!(await stillHeld(deps, record, 'while waiting'))) continue;
      if (!(await hooksPassed(deps))) {
        // The drain did not happen: this host is not ready to go, so another may take the place.
        if (keeper?.lost !== true) await releaseUntilConfirmed(deps, record.id);
        await deps.clock.sleep(delay(attempt, deps));
        continue;
      }
      // A drain can take long: the place must still be ours after it.
      if (deps.beforeReboot !== undefined && !(await stillHeld(deps, record, 'after the reboot.before hooks'))) continue;
      await arming.arm();
      // Arming may have waited for a check to finish: ask etcd once more, immediately before the call.
      if (!(await stillHeld(deps, record, 'before the reboot call'))) {
        await disarm(deps, arming);
        continue;
      }
      await deps.rebooter.reboot();
      return { kind: 'rebooting', locked: true };
    } finally {
      keeper?.stop();
    }
  }
}

/** Runs the reboot.before hooks; false (logged) when one failed, so the reboot is postponed. */
async function hooksPassed(deps: CoordinatorDeps): Promise<boolean> {
  const failed = (await deps.beforeReboot?.()) ?? null;
  if (failed === null) return true;
  deps.log({ reason: failed }, `reboot postponed: reboot.before ${failed}; the reboot lock is given back and asked for again later`);
  return false;
}

/** Takes the armed slot out of the next boot; a failure is logged (the slot is armed again, under the lock, before any reboot of ours). */
async function disarm(deps: CoordinatorDeps, arming: Arming): Promise<void> {
  try {
    await arming.disarm();
    deps.log({}, 'disarmed the staged slot: the running slot boots next until the lock is held again');
  } catch (error) {
    deps.log({ code: errorCode(error), error: causeChain(error) }, 'could not disarm the staged slot');
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
