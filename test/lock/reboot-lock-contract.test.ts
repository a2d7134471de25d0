// One contract for every RebootLock: the in-memory fake the coordinator tests use, and the etcd
// backend on a real etcd, must agree on places, idempotency and release.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEtcdLockBackend } from '../../agent/lock/etcd-lock-backend.ts';
import { MemoryRebootLock } from '../fakes/memory-reboot-lock.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { missingTools } from '../builders/require-tools.ts';
import type { EtcdServer } from '../../qemu/etcd-server.ts';
import type { EtcdLockBackend } from '../../agent/lock/etcd-lock-backend.ts';
import type { RebootLock } from '../../agent/lock/lock-backend.ts';

const skip = missingTools({ etcd: 'etcd-server' });
let etcd: EtcdServer | null = null;
const clients: EtcdLockBackend[] = [];
beforeAll(async () => {
  if (skip === null) etcd = await startEtcd();
});
afterAll(async () => {
  for (const c of clients) c.close();
  await etcd?.stop();
});

let group = 0;
const locks: [string, (max: number) => Promise<RebootLock>][] = [
  ['MemoryRebootLock', (max) => Promise.resolve(new MemoryRebootLock(max))],
  [
    'EtcdLockBackend',
    async (max) => {
      if (!etcd) throw new Error(skip ?? 'etcd is not running');
      const backend = await openEtcdLockBackend({ connection: etcd.connection(), group: `contract-${group++}`, holdTtlSeconds: 600, callTimeoutMs: 2_000, now: () => Date.now() });
      clients.push(backend);
      await backend.setMax(max);
      return backend;
    },
  ],
];
const record = (id: string) => ({ id, host: id, since: '2026-11-22T00:00:00Z', targetVersion: '1.0.1' });

describe.each(locks)('%s', (name, make) => {
  it.skipIf(name === 'EtcdLockBackend' && skip !== null)(`${name === 'EtcdLockBackend' ? (skip ?? '') : ''} gives max places, idempotently, and frees them on release`, async () => {
    const lock = await make(2);
    expect((await lock.acquire(record('a'))).kind).toBe('acquired');
    expect((await lock.acquire(record('a'))).kind).toBe('already-held');
    expect((await lock.acquire(record('b'))).kind).toBe('acquired');
    expect(await lock.acquire(record('c'))).toMatchObject({ kind: 'full', holders: ['a', 'b'] });
    expect(await lock.release('a')).toBe('released');
    expect(await lock.release('a')).toBe('not-held');
    expect((await lock.acquire(record('c'))).kind).toBe('acquired');
  });
});
