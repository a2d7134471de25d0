// The LockBackend port: a fleet-wide reboot semaphore shared by the hosts of one group.

import type { EtcdConnection } from './etcd-connection.ts';
import type { Semaphore } from './semaphore.ts';

/** What a holder leaves beside the semaphore so the fleet can see who it is and when it expires. */
export interface HolderRecord {
  readonly id: string;
  readonly host: string;
  readonly since: string;
  readonly targetVersion: string;
  /**
   * Only on an operator's hold: "never" (no lease; held until unlocked) or the ISO time its lease runs
   * out. An agent's record has none: its lease is renewed while it holds the place.
   */
  readonly expires?: string;
}

/** How long an operator's hold lasts: until unlocked, or a lease of this many seconds nobody renews. */
export type OperatorHold = { readonly kind: 'permanent' } | { readonly kind: 'ttl'; readonly ttlSeconds: number };

export type AcquireResult =
  | { readonly kind: 'acquired' | 'already-held'; readonly reclaimed: readonly string[] }
  | { readonly kind: 'full'; readonly holders: readonly string[]; readonly reason?: string };

export interface LockStatus {
  readonly key: string;
  readonly semaphore: Semaphore;
  /** Per holder: its record, whether its lease is still alive (null: a locksmith holder without one). */
  readonly holders: readonly { readonly id: string; readonly record: HolderRecord | null; readonly alive: boolean | null }[];
}

/** What the reboot coordinator needs: take and give back a place. FleetLock offers only this. */
export interface RebootLock {
  acquire(record: HolderRecord): Promise<AcquireResult>;
  /** Where the backend can watch (etcd): wait in line until a place is free, without polling. */
  acquireWhenFree?(record: HolderRecord): Promise<AcquireResult>;
  release(id: string): Promise<'released' | 'not-held'>;
  /**
   * Where the backend can tell (etcd): renews the holder's lease (binding a new one if the old lapsed
   * and the place is still its own) and says, from the backend's answer now, whether it holds a place.
   */
  keep?(record: HolderRecord): Promise<'held' | 'not-held'>;
}

/** A backend an operator can also inspect, hold and resize (etcd, as locksmithctl does). */
export interface LockBackend extends RebootLock {
  /** A maintenance hold, taken as `hold` says (see OperatorHold). */
  hold(record: HolderRecord, hold: OperatorHold): Promise<AcquireResult>;
  status(): Promise<LockStatus>;
  setMax(max: number): Promise<Semaphore>;
}

/** Which semaphore, and how to reach etcd: the agent's settings and `slipway lock`'s flags both make one. */
export interface LockRequest {
  /** Empty for locksmith's default (ungrouped) semaphore. */
  readonly group: string;
  readonly connection: EtcdConnection;
}
