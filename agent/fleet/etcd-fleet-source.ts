// The fleet source on one etcd client: the fleet store and the group's semaphore beside it, the
// semaphore of any other group for FleetLock clients, and etcd's watch on the keys of the group.

import { readEtcdTls } from '../lock/etcd-connection.ts';
import { EtcdGatewayClient } from '../lock/etcd-gateway-client.ts';
import { EtcdLockBackend, semaphoreKey } from '../lock/etcd-lock-backend.ts';
import { EtcdFleetStore } from './etcd-fleet-store.ts';
import type { LockRequest } from '../lock/lock-backend.ts';
import type { FleetSource } from './fleet-source.ts';

/** Outcomes are written by agents, with their own lease length; an operator's commands only read them. */
const OUTCOME_TTL_SECONDS = 7 * 24 * 3600;
/** Holds taken for FleetLock clients are permanent (fleet-lock-server.ts): this lease length is never used. */
const UNUSED_HOLD_TTL_SECONDS = 3600;

/**
 * Everything the group keeps in etcd lies under the directory of its semaphore; locksmith's default
 * group has its semaphore at the root, so its watch also sees the other groups' keys (a few more
 * re-reads, nothing wrong).
 */
export function groupDirectory(group: string): string {
  return semaphoreKey(group).slice(0, -'semaphore'.length);
}

export async function openEtcdFleetSource(request: LockRequest, now: () => number): Promise<FleetSource> {
  const client = new EtcdGatewayClient({ connection: request.connection, tls: await readEtcdTls(request.connection), callTimeoutMs: 10_000, now });
  const lock = new EtcdLockBackend(client, { group: request.group, holdTtlSeconds: UNUSED_HOLD_TTL_SECONDS });
  const locks = new Map<string, EtcdLockBackend>([[request.group, lock]]);
  return {
    group: request.group,
    store: new EtcdFleetStore(client, { group: request.group, outcomeTtlSeconds: OUTCOME_TTL_SECONDS }),
    lockStatus: () => lock.status(),
    lockFor: (group) => {
      let backend = locks.get(group);
      if (backend === undefined) {
        backend = new EtcdLockBackend(client, { group, holdTtlSeconds: UNUSED_HOLD_TTL_SECONDS });
        locks.set(group, backend);
      }
      return backend;
    },
    // First the revision the watch starts after, yielded so the caller reads from there: no change
    // between its last read and the watch is missed.
    changes: async function* (signal) {
      const { revision } = await client.range(semaphoreKey(request.group));
      yield 0;
      const startRevision = String(BigInt(revision) + 1n);
      for await (const batch of client.watchBatches(groupDirectory(request.group), { prefix: true, signal, startRevision })) yield batch.length;
    },
    close: () => client.close(),
  };
}
