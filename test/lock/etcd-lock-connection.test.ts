// Reaching etcd, against real etcds on loopback: a dead endpoint before a live one, an unreachable
// etcd (ERR_LOCK_UNAVAILABLE), TLS with a server and a client certificate made by openssl, unreadable
// TLS files named at open, and etcd's password auth (ERR_LOCK_DENIED, a token etcd forgot).

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import got from 'got';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEtcdLockBackend } from '../../agent/lock/etcd-lock-backend.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { missingTools } from '../builders/require-tools.ts';
import { makeTestCertificates } from '../builders/test-certificates.ts';
import type { AddressInfo } from 'node:net';
import type { EtcdConnection } from '../../agent/lock/etcd-connection.ts';
import type { EtcdLockBackend } from '../../agent/lock/etcd-lock-backend.ts';
import type { HolderRecord } from '../../agent/lock/lock-backend.ts';
import type { EtcdServer } from '../../qemu/etcd-server.ts';
import type { TestCertificates } from '../builders/test-certificates.ts';

const skip = missingTools({ etcd: 'etcd-server', openssl: 'openssl' });
const record = (id: string): HolderRecord => ({ id, host: `${id}.example`, since: '2026-11-22T12:00:00.000Z', targetVersion: '1.0.1' });
const plain = (endpoints: readonly string[]): EtcdConnection => ({ endpoints, caFile: null, certFile: null, keyFile: null, username: null, password: null });

const opened: EtcdLockBackend[] = [];
let groups = 0;
async function open(connection: EtcdConnection): Promise<EtcdLockBackend> {
  const backend = await openEtcdLockBackend({ connection, group: `c${groups++}`, holdTtlSeconds: 600, callTimeoutMs: 2_000, now: () => Date.now() });
  opened.push(backend);
  return backend;
}
/** Two backends on one group: a holder, then a waiter the holder's release lets in (a watch). */
async function handOver(connection: EtcdConnection): Promise<void> {
  const group = `c${groups++}`;
  const make = async (): Promise<EtcdLockBackend> => {
    const backend = await openEtcdLockBackend({ connection, group, holdTtlSeconds: 600, callTimeoutMs: 2_000, now: () => Date.now() });
    opened.push(backend);
    return backend;
  };
  const [holder, waiter] = [await make(), await make()];
  expect((await holder.acquire(record('first'))).kind).toBe('acquired');
  const waiting = waiter.acquireWhenFree(record('second'));
  expect(await holder.release('first')).toBe('released');
  expect((await waiting).kind).toBe('acquired');
  expect((await holder.status()).semaphore.holders).toEqual(['second']);
}

/** A loopback port nothing listens on: connections to it are refused. */
async function deadEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

afterAll(() => {
  for (const backend of opened) backend.close();
});

describe.skipIf(skip !== null)(`${skip ?? ''} several endpoints`, () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd.stop();
  });

  it('tries the next endpoint when one refuses the connection', async () => {
    const endpoints = [await deadEndpoint(), etcd.url];
    const backend = await open(plain(endpoints));
    expect((await backend.acquire(record('m1'))).kind).toBe('acquired');
    expect((await backend.status()).semaphore.holders).toEqual(['m1']);
    await handOver(plain(endpoints));
  });

  it('reports ERR_LOCK_UNAVAILABLE, naming every endpoint, when none answers', async () => {
    const dead = [await deadEndpoint(), await deadEndpoint()];
    const error = (await (await open(plain(dead))).status().catch((e: unknown) => e)) as Error;
    expect(error).toMatchObject({ name: 'LockError', code: 'ERR_LOCK_UNAVAILABLE' });
    expect(error.message).toContain(dead.join(', '));
    expect(error.cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('refuses an endpoint that is not an http or https URL', async () => {
    await expect(open(plain(['127.0.0.1:2379']))).rejects.toMatchObject({ code: 'ERR_LOCK_CONFIG_INVALID', message: expect.stringContaining('127.0.0.1:2379') as unknown });
  });
});

describe.skipIf(skip !== null)(`${skip ?? ''} TLS`, () => {
  let dir: string;
  let certs: TestCertificates;
  let etcd: EtcdServer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-etcd-tls-'));
    certs = await makeTestCertificates(dir);
    etcd = await startEtcd({
      tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile, clientCertAuth: true },
      clientCert: { certFile: certs.clientCertFile, keyFile: certs.clientKeyFile },
    });
  });
  afterAll(async () => {
    await etcd.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('locks over https with the CA and a client certificate, the watch included', async () => {
    expect(etcd.url).toMatch(/^https:/);
    await handOver(etcd.connection());
  });

  it('is unavailable without the client certificate, or without trusting the CA', async () => {
    const connection = etcd.connection();
    await expect((await open({ ...connection, certFile: null, keyFile: null })).status()).rejects.toMatchObject({ code: 'ERR_LOCK_UNAVAILABLE' });
    const untrusted = (await (await open({ ...connection, caFile: null })).status().catch((e: unknown) => e)) as Error;
    expect(untrusted).toMatchObject({ code: 'ERR_LOCK_UNAVAILABLE', cause: { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' } });
  });

  it('names a TLS file it cannot read when it opens, before any call', async () => {
    const missing = join(dir, 'absent-ca.crt');
    await expect(open({ ...etcd.connection(), caFile: missing })).rejects.toMatchObject({
      name: 'LockError',
      code: 'ERR_LOCK_CONFIG_INVALID',
      message: `cannot read the etcd CA file ${missing}`,
      cause: { code: 'ENOENT' },
    });
    await expect(open({ ...etcd.connection(), keyFile: dir })).rejects.toMatchObject({ code: 'ERR_LOCK_CONFIG_INVALID', message: `cannot read the etcd client key ${dir}`, cause: { code: 'EISDIR' } });
    await expect(open({ ...etcd.connection(), keyFile: null })).rejects.toMatchObject({ code: 'ERR_LOCK_CONFIG_INVALID', message: expect.stringContaining(certs.clientCertFile) as unknown });
  });
});

describe.skipIf(skip !== null)(`${skip ?? ''} password auth`, () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await startEtcd();
    await etcd.enableAuth('root-secret');
  });
  afterAll(async () => {
    await etcd.stop();
  });

  it('locks as the user, the watch included', async () => {
    await handOver(etcd.connection());
  });

  it('is denied without credentials, and with a wrong password, naming the user', async () => {
    await expect((await open(plain([etcd.url]))).status()).rejects.toMatchObject({ name: 'LockError', code: 'ERR_LOCK_DENIED' });
    const error = (await (await open({ ...etcd.connection(), password: 'wrong' })).status().catch((e: unknown) => e)) as Error;
    expect(error).toMatchObject({ code: 'ERR_LOCK_DENIED' });
    expect(error.message).toMatch(/user root.*authentication failed/);
  });

  it('logs in again when etcd has forgotten its token', async () => {
    const backend = await open(etcd.connection());
    expect((await backend.acquire(record('m1'))).kind).toBe('acquired');
    // Turning auth off and on again drops every token etcd handed out.
    const { token } = await got.post(`${etcd.url}/v3/auth/authenticate`, { json: { name: 'root', password: 'root-secret' } }).json<{ token: string }>();
    await got.post(`${etcd.url}/v3/auth/disable`, { json: {}, headers: { authorization: token } });
    await got.post(`${etcd.url}/v3/auth/enable`, { json: {} });
    const stale = await got.post(`${etcd.url}/v3/kv/range`, { json: { key: 'eA==' }, headers: { authorization: token }, throwHttpErrors: false });
    expect(stale.statusCode).toBe(401);
    expect((await backend.status()).semaphore.holders).toEqual(['m1']);
    expect(await backend.release('m1')).toBe('released');
  });
});
