// What `slipway fleet` and the fleet view read and change, as a port: the fleet store, the reboot
// semaphore of the group (and of any group, for FleetLock clients), and a feed of etcd's changes.

import { fleetOverview } from './fleet-overview.ts';
import type { LockStatus } from '../lock/lock-backend.ts';
import type { GroupLock } from './fleet-lock-server.ts';
import type { FleetOverview } from './fleet-overview.ts';
import type { FleetStore } from './fleet-store.ts';

export interface FleetSource {
  /** The lock group whose fleet this is (empty: locksmith's default group). */
  readonly group: string;
  readonly store: FleetStore;
  lockStatus(): Promise<LockStatus>;
  /** The reboot lock of any group, for FleetLock clients naming theirs. */
  lockFor(group: string): GroupLock;
  /**
   * Yields once when it starts (read now: changes from here on are reported) and then whenever a key
   * of the group's fleet or semaphore changed; fails when the feed breaks.
   */
  changes(signal: AbortSignal): AsyncIterable<unknown>;
  close(): void;
}

/** Reads everything the overview needs at once and judges it at `now`. */
export async function readOverview(source: FleetSource, now: () => Date, quietAfterMs: number): Promise<FleetOverview> {
  const [hosts, outcomes, halts, lock] = await Promise.all([source.store.hosts(), source.store.allOutcomes(), source.store.halts(), source.lockStatus()]);
  return fleetOverview({ group: source.group, hosts, outcomes, halts, lock, now: now(), quietAfterMs });
}
