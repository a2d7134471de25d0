// The FleetLock server on slipway's etcd semaphore, against a real etcd: slipway's own FleetLock
// client, and requests spelled exactly as Zincati sends them (src/fleet_lock/mod.rs: POST, the
// fleet-lock-protocol header, a pretty-printed client_params body, group "default"), sharing places
// with a slipway agent's etcd lock; bad requests get airlock's JSON errors.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request } from 'node:http';
import { EtcdGatewayClient } from '../../agent/lock/etcd-gateway-client.ts';
import { EtcdLockBackend } from '../../agent/lock/etcd-lock-backend.ts';
import { FleetLockClient } from '../../agent/lock/fleet-lock-client.ts';
import { handleFleetLock, locksmithGroup } from '../../agent/fleet/fleet-lock-server.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { missingTools } from '../builders/require-tools.ts';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EtcdServer } from '../../qemu/etcd-server.ts';

const skip = missingTools({ etcd: 'etcd-server' });

/** As Zincati builds it: serde_json::to_string_pretty of { client_params: { id, group } }. */
const zincatiBody = (id: string, group = 'default'): string => JSON.stringify({ client_params: { id, group } }, null, 2);

describe.skipIf(skip !== null)(`${skip ?? ''} FleetLock server on the etcd semaphore`, () => {
  let etcd: EtcdServer;
  let client: EtcdGatewayClient;
  let server: Server;
  let base: string;
  const backend = (group: string): EtcdLockBackend => new EtcdLockBackend(client, { group, holdTtlSeconds: 600 });

  beforeAll(async () => {
    etcd = await startEtcd();
    client = new EtcdGatewayClient({ connection: etcd.connection(), tls: null, callTimeoutMs: 5_000, now: () => Date.now() });
    server = createServer((req, res) => {
      void handleFleetLock(req, res, { lockFor: backend, now: () => new Date(), log: () => undefined }).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    client?.close();
    await etcd?.stop();
  });

  const post = (path: string, body: string, headers: Record<string, string> = { 'fleet-lock-protocol': 'true' }, method = 'POST'): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request(`${base}${path}`, { method, headers }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it("gives Zincati a place on the default group's semaphore, which a slipway host then finds full, and takes it back at steady-state", async () => {
    expect(locksmithGroup('default')).toBe('');
    expect(await post('/v1/pre-reboot', zincatiBody('fcos-node-1'))).toEqual({ status: 200, body: '' });
    // Recursive: Zincati asks again after a retry and still holds it.
    expect((await post('/v1/pre-reboot', zincatiBody('fcos-node-1'))).status).toBe(200);
    const slipwayHost = { id: 'slipway-host', host: 'h', since: new Date().toISOString(), targetVersion: '1.0.1' };
    expect(await backend('').acquire(slipwayHost)).toMatchObject({ kind: 'full', holders: ['fcos-node-1'] });
    const full = await post('/v1/pre-reboot', zincatiBody('fcos-node-2'));
    expect(full.status).toBe(409);
    expect(JSON.parse(full.body)).toEqual({ kind: 'failed_lock', value: 'semaphore of group default is full (held by fcos-node-1)' });
    expect((await post('/v1/steady-state', zincatiBody('fcos-node-1'))).status).toBe(200);
    expect(await backend('').acquire(slipwayHost)).toMatchObject({ kind: 'acquired' });
    expect((await backend('').status()).semaphore.holders).toEqual(['slipway-host']);
    await backend('').release('slipway-host');
  });

  it("serves slipway's own FleetLock client, per group", async () => {
    const fleetLock = new FleetLockClient({ baseUrl: base, group: 'workers', timeoutMs: 5_000 });
    const record = { id: 'slipway-2', host: 'h2', since: new Date().toISOString(), targetVersion: '1.0.1' };
    expect(await fleetLock.acquire(record)).toEqual({ kind: 'acquired', reclaimed: [] });
    expect((await backend('workers').status()).semaphore.holders).toEqual(['slipway-2']);
    expect(await fleetLock.acquire({ ...record, id: 'other' })).toMatchObject({ kind: 'full' });
    expect(await fleetLock.release('slipway-2')).toBe('released');
    expect((await backend('workers').status()).semaphore.holders).toEqual([]);
  });

  it.each([
    ['without the protocol header', '/v1/pre-reboot', zincatiBody('n'), {}, 'POST', 400, "the 'fleet-lock-protocol: true' header is missing"],
    ['with a body that is not JSON', '/v1/pre-reboot', '{', { 'fleet-lock-protocol': 'true' }, 'POST', 400, 'request body is not JSON'],
    ['with an empty id', '/v1/steady-state', zincatiBody(''), { 'fleet-lock-protocol': 'true' }, 'POST', 400, 'client_params.id is missing or empty'],
    ['with a group FleetLock does not allow', '/v1/pre-reboot', zincatiBody('n', 'a/b'), { 'fleet-lock-protocol': 'true' }, 'POST', 400, 'client_params.group must match ^[a-zA-Z0-9.-]+$'],
    ['by GET', '/v1/pre-reboot', '', { 'fleet-lock-protocol': 'true' }, 'GET', 405, '/v1/pre-reboot takes POST, not GET'],
  ])('refuses a request %s with airlock\'s JSON error', async (_what, path, body, headers, method, status, value) => {
    const answer = await post(path, body, headers, method);
    expect(answer.status).toBe(status);
    expect(JSON.parse(answer.body)).toMatchObject({ value });
    expect((await backend('').status()).semaphore.holders).toEqual([]);
  });
});
