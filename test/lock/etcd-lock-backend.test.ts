// The etcd lock backend against a real etcd (Debian's etcd-server on loopback): locksmith's key and
// value, create-only-if-absent, corrupt values left alone, races watched by an independent
// observer, idempotency, expired holders reclaimed, plain locksmith holders kept, and outages.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { EtcdLockBackend, semaphoreKey } from '../../agent/lock/etcd-lock-backend.ts';
import { parseSemaphore } from '../../agent/lock/semaphore.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { missingTools } from '../builders/require-tools.ts';
import type { EtcdServer } from '../../qemu/etcd-server.ts';
import type { HolderRecord } from '../../agent/lock/lock-backend.ts';

const skip = missingTools({ etcd: 'etcd-server' });
let etcd: EtcdServer;
let raw: Etcd3;
beforeAll(async () => {
  if (skip !== null) return;
  etcd = await startEtcd();
  raw = new Etcd3({ hosts: etcd.url });
});
afterAll(async () => {
  if (skip !== null) return;
  raw.close();
  await etcd.stop();
});

let groups = 0;
const opened: EtcdLockBackend[] = [];
function backend(group: string, timeoutMs = 2_000): EtcdLockBackend {
  const b = new EtcdLockBackend({ endpoints: [etcd.url], group, holdTtlSeconds: 600, callTimeoutMs: timeoutMs, now: () => Date.now() });
  opened.push(b);
  return b;
}
const record = (id: string): HolderRecord => ({ id, host: `${id}.example`, since: '2026-11-22T12:00:00.000Z', targetVersion: '1.0.1' });

describe.skipIf(skip !== null)(`${skip ?? ''} EtcdLockBackend`, () => {
  it('uses locksmith keys and creates the semaphore only if absent', async () => {
    expect(semaphoreKey('')).toBe('coreos.com/updateengine/rebootlock/semaphore');
    expect(semaphoreKey('web servers')).toBe('coreos.com/updateengine/rebootlock/groups/web%20servers/semaphore');
    const group = `g${groups++}`;
    expect(await backend(group).acquire(record('m1'))).toEqual({ kind: 'acquired', reclaimed: [] });
    expect(await raw.get(semaphoreKey(group)).string()).toBe('{"semaphore":0,"max":1,"holders":["m1"]}');
    expect(await backend(group).acquire(record('m2'))).toEqual({ kind: 'full', holders: ['m1'] });
  });

  it('respects a value locksmith wrote, and leaves a corrupt one untouched', async () => {
    const group = `g${groups++}`;
    await raw.put(semaphoreKey(group)).value('{"semaphore":1,"max":2,"holders":["locksmith-host"]}');
    expect((await backend(group).acquire(record('m1'))).kind).toBe('acquired');
    expect(await raw.get(semaphoreKey(group)).string()).toBe('{"semaphore":0,"max":2,"holders":["locksmith-host","m1"]}');
    const broken = `g${groups++}`;
    await raw.put(semaphoreKey(broken)).value('{"semaphore":"lots"}');
    await expect(backend(broken).acquire(record('m1'))).rejects.toMatchObject({ code: 'ERR_LOCK_CORRUPT' });
    expect(await raw.get(semaphoreKey(broken)).string()).toBe('{"semaphore":"lots"}');
  });

  it('is idempotent per holder', async () => {
    const b = backend(`g${groups++}`);
    expect((await b.acquire(record('m1'))).kind).toBe('acquired');
    expect((await b.acquire(record('m1'))).kind).toBe('already-held');
    expect(await b.release('m1')).toBe('released');
    expect(await b.release('m1')).toBe('not-held');
    expect((await b.status()).semaphore).toEqual({ semaphore: 1, max: 1, holders: [] });
  });

  it.each([1, 3])('never has more than max=%i holders with 20 hosts racing (independent watcher)', async (max) => {
    const group = `g${groups++}`;
    await backend(group).setMax(max);
    let most = 0;
    const watcher = await raw.watch().key(semaphoreKey(group)).create();
    watcher.on('put', (kv) => {
      most = Math.max(most, parseSemaphore(kv.value.toString(), 'watched').holders.length);
    });
    const hosts = Array.from({ length: 20 }, (_, i) => `host-${String(i).padStart(2, '0')}`);
    const done: string[] = [];
    await Promise.all(
      hosts.map(async (id) => {
        const b = backend(group);
        for (;;) {
          const result = await b.acquire(record(id));
          if (result.kind === 'acquired') break;
          await new Promise((resolve) => setImmediate(resolve));
        }
        expect((await b.status()).semaphore.holders.length).toBeLessThanOrEqual(max);
        done.push(id);
        expect(await b.release(id)).toBe('released');
      }),
    );
    await watcher.cancel();
    expect(done.sort()).toEqual(hosts);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(max);
    expect(parseSemaphore((await raw.get(semaphoreKey(group)).string()) ?? '', 'final')).toEqual({ semaphore: max, max, holders: [] });
  });

  it('lets queued waiters in one at a time, in arrival order, each woken by a watch', async () => {
    const group = `g${groups++}`;
    const holder = backend(group);
    expect((await holder.acquire(record('first'))).kind).toBe('acquired');
    const order: string[] = [];
    const queuePrefix = `coreos.com/updateengine/rebootlock/groups/${group}/queue/`;
    const waiters: Promise<void>[] = [];
    for (const id of ['w1', 'w2', 'w3', 'w4']) {
      // Arrive one after another: wait (by watch) until this waiter's queue entry exists.
      const queued = await raw.watch().key(`${queuePrefix}${id}`).create();
      const entered = new Promise((resolve) => queued.once('put', resolve));
      const b = backend(group);
      waiters.push(
        b.acquireWhenFree(record(id)).then(async (result) => {
          order.push(id);
          expect(result.kind).toBe('acquired');
          expect((await b.status()).semaphore.holders).toEqual([id]);
          await b.release(id);
        }),
      );
      await entered;
      await queued.cancel();
    }
    await holder.release('first');
    await Promise.all(waiters);
    expect(order).toEqual(['w1', 'w2', 'w3', 'w4']);
    expect((await raw.getAll().prefix(`coreos.com/updateengine/rebootlock/groups/${group}/queue/`).keys())).toEqual([]);
  });

  it('re-reads after a transaction that timed out but committed, and does not take a second place', async () => {
    const group = `g${groups++}`;
    await raw.put(semaphoreKey(group)).value('{"semaphore":2,"max":2,"holders":[]}');
    let failed = 0;
    // The client commits for real, then reports a deadline error once, as a lost reply would.
    const wrap = <T extends object>(builder: T): T =>
      new Proxy(builder, {
        get(target, prop) {
          const value = Reflect.get(target, prop) as unknown;
          if (typeof value !== 'function') return value;
          if (prop === 'commit') {
            return async (...args: unknown[]) => {
              const result = (await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)) as { succeeded: boolean };
              if (failed === 0 && result.succeeded) {
                failed++;
                throw new Error('4 DEADLINE_EXCEEDED: Deadline exceeded');
              }
              return result;
            };
          }
          return (...args: unknown[]) => {
            const out = (value as (...a: unknown[]) => unknown).apply(target, args);
            return out === target ? wrap(target) : out;
          };
        },
      });
    const flaky = new Proxy(raw, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as unknown;
        if (prop === 'if') return (...args: unknown[]) => wrap((value as (...a: unknown[]) => object).apply(target, args));
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const b = new EtcdLockBackend({ endpoints: [etcd.url], group, holdTtlSeconds: 600, callTimeoutMs: 2_000, now: () => Date.now(), client: flaky });
    const result = await b.acquire(record('m1'));
    expect(failed).toBe(1);
    expect(result.kind).toBe('already-held');
    expect(await raw.get(semaphoreKey(group)).string()).toBe('{"semaphore":1,"max":2,"holders":["m1"]}');
  });

  it('reclaims a dead holder once etcd has expired its lease, and the fleet goes on', async () => {
    const group = `g${groups++}`;
    const dead = backend(group);
    expect((await dead.acquire(record('dead'))).kind).toBe('acquired');
    expect(await backend(group).acquire(record('next'))).toEqual({ kind: 'full', holders: ['dead'] });
    // etcd judges expiry: revoking the lease is what its TTL running out does.
    const alive = await raw.get(`coreos.com/updateengine/rebootlock/groups/${group}/holders/dead/alive`).exec();
    await raw.leaseClient.leaseRevoke({ ID: alive.kvs[0]?.lease ?? '0' });
    expect(await backend(group).acquire(record('next'))).toEqual({ kind: 'acquired', reclaimed: ['dead'] });
    expect((await backend(group).status()).semaphore.holders).toEqual(['next']);
  });

  it('never reclaims a plain locksmith holder that has no record', async () => {
    const group = `g${groups++}`;
    await raw.put(semaphoreKey(group)).value('{"semaphore":0,"max":1,"holders":["old-locksmith"]}');
    expect(await backend(group).acquire(record('m1'))).toEqual({ kind: 'full', holders: ['old-locksmith'] });
    expect((await backend(group).status()).holders).toEqual([{ id: 'old-locksmith', record: null, alive: null }]);
  });

  it('reports holders with their records in status', async () => {
    const group = `g${groups++}`;
    await backend(group).acquire(record('m1'));
    expect((await backend(group).status()).holders).toEqual([{ id: 'm1', record: record('m1'), alive: true }]);
  });

  it('fails while etcd is down (no lock, so no reboot), and succeeds once it is back; unlock likewise', async () => {
    const group = `g${groups++}`;
    const b = backend(group, 500);
    expect((await b.acquire(record('m1'))).kind).toBe('acquired');
    await etcd.pause();
    try {
      await expect(backend(group, 500).acquire(record('m2'))).rejects.toThrow();
      await expect(b.release('m1')).rejects.toThrow();
    } finally {
      await etcd.resume();
    }
    expect(await b.release('m1')).toBe('released');
    expect((await backend(group).acquire(record('m2'))).kind).toBe('acquired');
  });
});

afterAll(() => {
  for (const b of opened) b.close();
});
