// The etcd lock backend against a real etcd (Debian's etcd-server on loopback): locksmith's key and
// value, create-only-if-absent, corrupt values left alone, races watched by an independent
// observer, idempotency, expired holders reclaimed, plain locksmith holders kept, outages, a reply
// lost after its transaction committed, and a dead endpoint before a live one.

import { createServer, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdGatewayClient } from '../../agent/lock/etcd-gateway-client.ts';
import { EtcdLockBackend, semaphoreKey } from '../../agent/lock/etcd-lock-backend.ts';
import { parseSemaphore } from '../../agent/lock/semaphore.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { missingTools } from '../builders/require-tools.ts';
import { waitersGetInInArrivalOrder } from '../builders/lock-scenarios.ts';
import type { AddressInfo } from 'node:net';
import type { EtcdConnection } from '../../agent/lock/etcd-connection.ts';
import type { EtcdServer } from '../../qemu/etcd-server.ts';
import type { HolderRecord } from '../../agent/lock/lock-backend.ts';

const skip = missingTools({ etcd: 'etcd-server' });
let etcd: EtcdServer;
/** The test's own view of etcd, beside the backend's: another client, another connection. */
let raw: EtcdGatewayClient;
const connection = (endpoints: readonly string[]): EtcdConnection => ({ endpoints, caFile: null, certFile: null, keyFile: null, username: null, password: null });
beforeAll(async () => {
  if (skip !== null) return;
  etcd = await startEtcd();
  raw = new EtcdGatewayClient({ connection: connection([etcd.url]), tls: null, callTimeoutMs: 5_000, now: () => Date.now() });
});
afterAll(async () => {
  if (skip !== null) return;
  raw.close();
  await etcd.stop();
});

let groups = 0;
const opened: EtcdLockBackend[] = [];
function backend(group: string, timeoutMs = 2_000, endpoints: readonly string[] = [etcd.url]): EtcdLockBackend {
  const b = new EtcdLockBackend(new EtcdGatewayClient({ connection: connection(endpoints), tls: null, callTimeoutMs: timeoutMs, now: () => Date.now() }), { group, holdTtlSeconds: 600 });
  opened.push(b);
  return b;
}
const text = async (key: string): Promise<string | null> => (await raw.get(key))?.value ?? null;
const after = (revision: string): string => String(BigInt(revision) + 1n);
const record = (id: string): HolderRecord => ({ id, host: `${id}.example`, since: '2026-11-22T12:00:00.000Z', targetVersion: '1.0.1' });

describe.skipIf(skip !== null)(`${skip ?? ''} EtcdLockBackend`, () => {
  it('uses locksmith keys and creates the semaphore only if absent', async () => {
    expect(semaphoreKey('')).toBe('coreos.com/updateengine/rebootlock/semaphore');
    expect(semaphoreKey('web servers')).toBe('coreos.com/updateengine/rebootlock/groups/web+servers/semaphore');
    const group = `g${groups++}`;
    expect(await backend(group).acquire(record('m1'))).toEqual({ kind: 'acquired', reclaimed: [] });
    expect(await text(semaphoreKey(group))).toBe('{"semaphore":0,"max":1,"holders":["m1"]}');
    expect(await backend(group).acquire(record('m2'))).toEqual({ kind: 'full', holders: ['m1'] });
  });

  it('respects a value locksmith wrote, and leaves a corrupt one untouched', async () => {
    const group = `g${groups++}`;
    await raw.put(semaphoreKey(group), '{"semaphore":1,"max":2,"holders":["locksmith-host"]}');
    expect((await backend(group).acquire(record('m1'))).kind).toBe('acquired');
    expect(await text(semaphoreKey(group))).toBe('{"semaphore":0,"max":2,"holders":["locksmith-host","m1"]}');
    const broken = `g${groups++}`;
    await raw.put(semaphoreKey(broken), '{"semaphore":"lots"}');
    await expect(backend(broken).acquire(record('m1'))).rejects.toMatchObject({ code: 'ERR_LOCK_CORRUPT' });
    await expect(backend(broken).setMax(3)).rejects.toMatchObject({ code: 'ERR_LOCK_CORRUPT' });
    expect(await text(semaphoreKey(broken))).toBe('{"semaphore":"lots"}');
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
    let seen = '0';
    const stop = new AbortController();
    const from = after((await raw.range(semaphoreKey(group))).revision);
    const watching = (async () => {
      for await (const event of raw.watch(semaphoreKey(group), { startRevision: from, signal: stop.signal })) {
        if (event.type !== 'put') continue;
        most = Math.max(most, parseSemaphore(event.kv.value, 'watched').holders.length);
        seen = event.kv.modRevision;
      }
    })();
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
    const final = await raw.get(semaphoreKey(group));
    // Every change up to the last one was seen before the watcher stops.
    await expect.poll(() => seen, { timeout: 10_000 }).toBe(final?.modRevision);
    stop.abort();
    await watching;
    expect(done.sort()).toEqual(hosts);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(max);
    expect(parseSemaphore(final?.value ?? '', 'final')).toEqual({ semaphore: max, max, holders: [] });
  });

  it('lets queued waiters in one at a time, in arrival order, each woken by a watch', async () => {
    const group = `g${groups++}`;
    await waitersGetInInArrivalOrder({ raw, backend: () => backend(group), group, record });
  });

  it('re-reads after a transaction whose reply was lost though it committed, and does not take a second place', async () => {
    const group = `g${groups++}`;
    await raw.put(semaphoreKey(group), '{"semaphore":2,"max":2,"holders":[]}');
    // A proxy in front of etcd that cuts the connection instead of passing on the first successful
    // transaction's reply, as a network failure after the commit would.
    let cut = 0;
    const target = new URL(etcd.url);
    const proxy = createServer((incoming, outgoing) => {
      const forwarded = request({ host: target.hostname, port: target.port, path: incoming.url, method: incoming.method, headers: incoming.headers }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const body = Buffer.concat(chunks);
          if (incoming.url === '/v3/kv/txn' && cut === 0 && body.includes('"succeeded":true')) {
            cut++;
            incoming.socket.destroy();
            return;
          }
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers).end(body);
        });
      });
      incoming.pipe(forwarded);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const b = backend(group, 2_000, [`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`]);
      const result = await b.acquire(record('m1'));
      expect(cut).toBe(1);
      expect(result.kind).toBe('already-held');
      expect(await text(semaphoreKey(group))).toBe('{"semaphore":1,"max":2,"holders":["m1"]}');
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('gives up with ERR_LOCK_CONTENDED when the key changes under every round, and leaves it as it was', async () => {
    const group = `g${groups++}`;
    const key = semaphoreKey(group);
    await raw.put(key, '{"semaphore":1,"max":1,"holders":[]}');
    let rounds = 0;
    // Another writer gets in between each read and its transaction (same value, a new mod_revision).
    class Contended extends EtcdGatewayClient {
      override async txn(...args: Parameters<EtcdGatewayClient['txn']>): ReturnType<EtcdGatewayClient['txn']> {
        rounds++;
        await raw.put(key, (await raw.get(key))?.value ?? '');
        return super.txn(...args);
      }
    }
    const b = new EtcdLockBackend(new Contended({ connection: connection([etcd.url]), tls: null, callTimeoutMs: 2_000, now: () => Date.now() }), { group, holdTtlSeconds: 600 });
    opened.push(b);
    await expect(b.setMax(2)).rejects.toMatchObject({ name: 'LockError', code: 'ERR_LOCK_CONTENDED', message: expect.stringContaining(key) as unknown });
    expect(rounds).toBe(64);
    expect(await text(key)).toBe('{"semaphore":1,"max":1,"holders":[]}');
  });

  it('has a client that renews a lease, says 0 for one etcd forgot, and ends a quiet watch after its wait', async () => {
    const lease = await raw.grantLease(60);
    expect(await raw.keepAliveLease(lease)).toBe(60);
    await raw.revokeLease(lease);
    expect(await raw.keepAliveLease(lease)).toBe(0);
    // Revoking twice is not an error: the lease is gone either way.
    await raw.revokeLease(lease);
    const key = `quiet/${groups++}`;
    const { revision } = await raw.range(key);
    expect(await raw.nextChange(key, revision, { deletesOnly: false, maxWaitMs: 200 })).toBe('quiet');
    await raw.put(key, 'x');
    expect(await raw.nextChange(key, revision, { deletesOnly: false, maxWaitMs: 5_000 })).toBe('changed');
    expect(await raw.nextChange(key, revision, { deletesOnly: true, maxWaitMs: 200 })).toBe('quiet');
  });

  it('reclaims a dead holder once etcd has expired its lease, and the fleet goes on', async () => {
    const group = `g${groups++}`;
    const dead = backend(group);
    expect((await dead.acquire(record('dead'))).kind).toBe('acquired');
    expect(await backend(group).acquire(record('next'))).toEqual({ kind: 'full', holders: ['dead'] });
    // etcd judges expiry: revoking the lease is what its TTL running out does.
    const alive = await raw.get(`coreos.com/updateengine/rebootlock/groups/${group}/holders/dead/alive`);
    await raw.revokeLease(alive?.lease ?? '0');
    expect(await backend(group).acquire(record('next'))).toEqual({ kind: 'acquired', reclaimed: ['dead'] });
    expect((await backend(group).status()).semaphore.holders).toEqual(['next']);
  });

  it('keeps a held place: renews its lease, binds a new one if etcd dropped it while nobody took the place, and says not-held once reclaimed', async () => {
    const group = `g${groups++}`;
    const holder = backend(group);
    const aliveKey = `coreos.com/updateengine/rebootlock/groups/${group}/holders/m1/alive`;
    expect(await holder.keep(record('m1'))).toBe('not-held');
    expect((await holder.acquire(record('m1'))).kind).toBe('acquired');
    const first = await raw.get(aliveKey);
    expect(await holder.keep(record('m1'))).toBe('held');
    expect((await raw.get(aliveKey))?.lease).toBe(first?.lease);
    // Away for longer than a lease, with nobody asking for the place: it is bound to a new lease.
    await raw.revokeLease(first?.lease ?? '0');
    expect(await raw.get(aliveKey)).toBeNull();
    expect(await holder.keep(record('m1'))).toBe('held');
    const rebound = await raw.get(aliveKey);
    expect(rebound?.lease).not.toBe(first?.lease);
    expect(await raw.keepAliveLease(rebound?.lease ?? '0')).toBeGreaterThan(0);
    // Away again, and this time another host reclaimed the place first: the holder is told so.
    await raw.revokeLease(rebound?.lease ?? '0');
    expect(await backend(group).acquire(record('m2'))).toEqual({ kind: 'acquired', reclaimed: ['m1'] });
    expect(await holder.keep(record('m1'))).toBe('not-held');
    expect((await holder.status()).semaphore.holders).toEqual(['m2']);
    expect(await raw.get(aliveKey)).toBeNull();
  });

  it('a release of a place not held never strips a holder that took it meanwhile of its record and lease', async () => {
    const group = `g${groups++}`;
    const fresh = backend(group);
    const holderKeys = `coreos.com/updateengine/rebootlock/groups/${group}/holders/m1/`;
    // The stale release (an agent's start-up cleanup) reads the semaphore, then the same host takes
    // the place before the release's cleanup is written.
    class Racing extends EtcdGatewayClient {
      raced = false;
      override async txn(...args: Parameters<EtcdGatewayClient['txn']>): ReturnType<EtcdGatewayClient['txn']> {
        if (!this.raced) {
          this.raced = true;
          expect((await fresh.acquire(record('m1'))).kind).toBe('acquired');
        }
        return super.txn(...args);
      }
    }
    await fresh.status(); // creates the semaphore, so the stale release's first write is its cleanup
    const stale = new EtcdLockBackend(new Racing({ connection: connection([etcd.url]), tls: null, callTimeoutMs: 2_000, now: () => Date.now() }), { group, holdTtlSeconds: 600 });
    opened.push(stale);
    expect(await stale.release('m1')).toBe('released');
    expect((await fresh.status()).semaphore.holders).toEqual([]);
    // Not held at all: the leftovers of an earlier hold are removed.
    await raw.put(`${holderKeys}record`, JSON.stringify(record('m1')));
    expect(await stale.release('m1')).toBe('not-held');
    expect(await raw.get(`${holderKeys}record`)).toBeNull();
  });

  it('never reclaims a plain locksmith holder that has no record', async () => {
    const group = `g${groups++}`;
    await raw.put(semaphoreKey(group), '{"semaphore":0,"max":1,"holders":["old-locksmith"]}');
    expect(await backend(group).acquire(record('m1'))).toEqual({ kind: 'full', holders: ['old-locksmith'] });
    expect((await backend(group).status()).holders).toEqual([{ id: 'old-locksmith', record: null, alive: null }]);
  });

  it("holds for an operator: permanent without a lease, which the agent's keep leaves so; or leased for the TTL etcd granted", async () => {
    const group = `g${groups++}`;
    const b = backend(group);
    await b.setMax(3);
    expect(await b.hold(record('ops'), { kind: 'permanent' })).toEqual({ kind: 'acquired', reclaimed: [] });
    const alive = `coreos.com/updateengine/rebootlock/groups/${group}/holders/ops/alive`;
    expect((await raw.get(alive))?.lease).toBe('0');
    // The agent's keep on the same id reports it held and binds no lease to it.
    expect(await b.keep(record('ops'))).toBe('held');
    expect((await raw.get(alive))?.lease).toBe('0');
    // etcd raises a TTL below its minimum; the record says what etcd granted.
    expect((await b.hold(record('brief'), { kind: 'ttl', ttlSeconds: 1 })).kind).toBe('acquired');
    const brief = (await b.status()).holders.find((h) => h.id === 'brief');
    const leased = await raw.get(`coreos.com/updateengine/rebootlock/groups/${group}/holders/brief/alive`);
    expect(leased?.lease).not.toBe('0');
    const left = await raw.keepAliveLease(leased?.lease ?? '0');
    expect(Date.parse(brief?.record?.expires ?? '') - Date.parse(record('brief').since)).toBe(left * 1000);
    // Held again as permanent: the record and the alive key say so.
    expect((await b.hold(record('brief'), { kind: 'permanent' })).kind).toBe('already-held');
    expect((await raw.get(`coreos.com/updateengine/rebootlock/groups/${group}/holders/brief/alive`))?.lease).toBe('0');
    expect((await b.status()).holders.find((h) => h.id === 'brief')?.record?.expires).toBe('never');
    // The agent's own acquire writes no expiry: its lease is kept alive.
    expect((await b.acquire(record('agent'))).kind).toBe('acquired');
    expect((await b.status()).holders.find((h) => h.id === 'agent')).toEqual({ id: 'agent', record: record('agent'), alive: true });
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
      await expect(backend(group, 500).acquire(record('m2'))).rejects.toMatchObject({ name: 'LockError', code: 'ERR_LOCK_UNAVAILABLE', message: expect.stringContaining(etcd.url) as unknown });
      await expect(b.release('m1')).rejects.toMatchObject({ code: 'ERR_LOCK_UNAVAILABLE' });
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
