// Scenarios the etcd lock backend must pass wherever etcd runs (one member, or a cluster whose leader
// dies meanwhile), written once and run by each suite.

import { expect } from 'vitest';
import type { EtcdGatewayClient } from '../../agent/lock/etcd-gateway-client.ts';
import type { EtcdLockBackend } from '../../agent/lock/etcd-lock-backend.ts';
import type { HolderRecord } from '../../agent/lock/lock-backend.ts';

const after = (revision: string): string => String(BigInt(revision) + 1n);

/**
 * Four waiters queue one after another behind a holder (each arrival awaited by watch on its queue
 * entry); once the holder leaves they get in one at a time in arrival order, and the queue is empty
 * after. `whileHolding(id)` runs while each holds its place (a suite kills the leader there).
 */
export async function waitersGetInInArrivalOrder(options: {
  readonly raw: EtcdGatewayClient;
  readonly backend: () => EtcdLockBackend;
  readonly group: string;
  readonly record: (id: string) => HolderRecord;
  readonly whileHolding?: (id: string) => Promise<unknown>;
}): Promise<void> {
  const { raw, backend, group, record } = options;
  const holder = backend();
  expect((await holder.acquire(record('first'))).kind).toBe('acquired');
  const order: string[] = [];
  const queuePrefix = `coreos.com/updateengine/rebootlock/groups/${group}/queue/`;
  const waiters: Promise<void>[] = [];
  for (const id of ['w1', 'w2', 'w3', 'w4']) {
    // Arrive one after another: wait (by watch) until this waiter's queue entry exists.
    const queued = raw.watch(`${queuePrefix}${id}`, { startRevision: after((await raw.range(`${queuePrefix}${id}`)).revision) });
    const entered = queued.next();
    const b = backend();
    waiters.push(
      b.acquireWhenFree(record(id)).then(async (result) => {
        order.push(id);
        expect(result.kind).toBe('acquired');
        expect((await b.status()).semaphore.holders).toEqual([id]);
        await options.whileHolding?.(id);
        await b.release(id);
      }),
    );
    expect((await entered).value).toMatchObject({ type: 'put' });
    await queued.return();
  }
  await holder.release('first');
  await Promise.all(waiters);
  expect(order).toEqual(['w1', 'w2', 'w3', 'w4']);
  expect((await raw.range(queuePrefix, { prefix: true })).kvs).toEqual([]);
}
