// The etcd lock backend against a three-member etcd cluster on loopback whose leader is killed in the
// middle of each test: acquire, full and release carry on through the next endpoint; racing hosts never
// exceed max (counted by an independent watcher that also fails over); queued waiters keep their order.

import { afterEach, describe, expect, it } from 'vitest';
import { EtcdGatewayClient } from '../../agent/lock/etcd-gateway-client.ts';
import { EtcdLockBackend, semaphoreKey } from '../../agent/lock/etcd-lock-backend.ts';
import { parseSemaphore } from '../../agent/lock/semaphore.ts';
import { startEtcdCluster } from '../../qemu/etcd-server.ts';
import { missingTools } from '../builders/require-tools.ts';
import { waitersGetInInArrivalOrder } from '../builders/lock-scenarios.ts';
import type { EtcdCluster } from '../../qemu/etcd-server.ts';
import type { HolderRecord } from '../../agent/lock/lock-backend.ts';

const skip = missingTools({ etcd: 'etcd-server' });
const record = (id: string): HolderRecord => ({ id, host: `${id}.example`, since: '2026-11-22T12:00:00.000Z', targetVersion: '1.0.1' });
const after = (revision: string): string => String(BigInt(revision) + 1n);

let cluster: EtcdCluster | null = null;
const clients: EtcdGatewayClient[] = [];
/** A client of every member, with a deadline long enough to ride out an election. */
function client(): EtcdGatewayClient {
  if (cluster === null) throw new Error('no cluster');
  const c = new EtcdGatewayClient({ connection: cluster.connection(), tls: null, callTimeoutMs: 15_000, now: () => Date.now() });
  clients.push(c);
  return c;
}
const backend = (group: string): EtcdLockBackend => new EtcdLockBackend(client(), { group, holdTtlSeconds: 600 });

/** Kills the leader and waits until another member leads; the one killed and the new leader. */
async function killLeader(): Promise<{ killed: number; leader: number }> {
  if (cluster === null) throw new Error('no cluster');
  const killed = await cluster.leader();
  await cluster.kill(killed);
  return { killed, leader: await cluster.leader() };
}

/** The most holders an independent watcher saw, following the key through a member's death. */
function watchHolders(group: string, from: string): { most: () => number; seen: () => string; stop: () => Promise<void> } {
  const raw = client();
  const stop = new AbortController();
  let most = 0;
  let seen = from;
  const watching = (async () => {
    for (let broken = 0; !stop.signal.aborted && broken < 100; broken++) {
      try {
        for await (const event of raw.watch(semaphoreKey(group), { startRevision: after(seen), signal: stop.signal })) {
          if (event.type !== 'put') continue;
          most = Math.max(most, parseSemaphore(event.kv.value, 'watched').holders.length);
          seen = event.kv.modRevision;
        }
      } catch {
        // the member it watched died: watch again, from where it was, at the next endpoint
      }
    }
  })();
  return {
    most: () => most,
    seen: () => seen,
    stop: async () => {
      stop.abort();
      await watching;
    },
  };
}

describe.skipIf(skip !== null)(`${skip ?? ''} EtcdLockBackend on a three-member cluster, leader killed`, () => {
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await cluster?.stop();
    cluster = null;
  });

  it('acquires, is full and releases through the other members when the leader dies', async () => {
    cluster = await startEtcdCluster(3);
    const group = 'g-basic';
    const first = backend(group);
    expect(await first.acquire(record('m1'))).toEqual({ kind: 'acquired', reclaimed: [] });
    expect(await backend(group).acquire(record('m2'))).toEqual({ kind: 'full', holders: ['m1'] });
    const { killed, leader } = await killLeader();
    expect(leader).not.toBe(killed);
    expect(await backend(group).acquire(record('m2'))).toEqual({ kind: 'full', holders: ['m1'] });
    expect(await first.release('m1')).toBe('released');
    expect(await backend(group).acquire(record('m2'))).toEqual({ kind: 'acquired', reclaimed: [] });
    expect((await backend(group).status()).semaphore).toEqual({ semaphore: 0, max: 1, holders: ['m2'] });
  });

  it('never has more than max=2 holders with 20 hosts waiting in line while the leader dies (independent watcher)', async () => {
    cluster = await startEtcdCluster(3);
    const group = 'g-race';
    const max = 2;
    await backend(group).setMax(max);
    const raw = client();
    const watcher = watchHolders(group, (await raw.range(semaphoreKey(group))).revision);
    const hosts = Array.from({ length: 20 }, (_, i) => `host-${String(i).padStart(2, '0')}`);
    const done: string[] = [];
    const killing: Promise<unknown>[] = [];
    let acquired = 0;
    await Promise.all(
      hosts.map(async (id) => {
        const b = backend(group);
        expect((await b.acquireWhenFree(record(id))).kind).toBe('acquired');
        // Halfway through, the leader goes; the hold is a real read, which must fail over too.
        if (++acquired === hosts.length / 2) killing.push(killLeader());
        expect((await b.status()).semaphore.holders.length).toBeLessThanOrEqual(max);
        done.push(id);
        expect(await b.release(id)).toBe('released');
      }),
    );
    expect(killing).toHaveLength(1);
    await Promise.all(killing);
    const final = await raw.get(semaphoreKey(group));
    await expect.poll(() => watcher.seen(), { timeout: 15_000 }).toBe(final?.modRevision);
    await watcher.stop();
    expect(done.sort()).toEqual(hosts);
    expect(watcher.most()).toBeGreaterThan(0);
    expect(watcher.most()).toBeLessThanOrEqual(max);
    expect(parseSemaphore(final?.value ?? '', 'final')).toEqual({ semaphore: max, max, holders: [] });
  });

  it('lets queued waiters in one at a time, in arrival order, across the leader dying', async () => {
    cluster = await startEtcdCluster(3);
    const group = 'g-line';
    const raw = client();
    // The second to get in releases after the leader died.
    await waitersGetInInArrivalOrder({ raw, backend: () => backend(group), group, record, whileHolding: (id) => (id === 'w2' ? killLeader() : Promise.resolve()) });
    expect((await raw.get(semaphoreKey(group)))?.value).toBe('{"semaphore":1,"max":1,"holders":[]}');
  });
});
