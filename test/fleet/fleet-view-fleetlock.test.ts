// `slipway fleet serve` as the FleetLock server of a mixed fleet, against a real etcd: a Fedora CoreOS
// host asking byte for byte as Zincati asks (test/builders/fleet-serve.ts), a slipway host with the
// fleet-lock strategy (slipway's own FleetLockClient) and a slipway host with the etcd-lock strategy
// (EtcdLockBackend) take turns on one semaphore; `slipway fleet status` names each holder's kind.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdGatewayClient } from '../../agent/lock/etcd-gateway-client.ts';
import { EtcdLockBackend } from '../../agent/lock/etcd-lock-backend.ts';
import { FleetLockClient } from '../../agent/lock/fleet-lock-client.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { missingTools } from '../builders/require-tools.ts';
import { rawRequest, startFleetServe, zincatiRequest } from '../builders/fleet-serve.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import type { EtcdServer } from '../../qemu/etcd-server.ts';
import type { FleetServe } from '../builders/fleet-serve.ts';
import type { FleetOverview } from '../../agent/fleet/fleet-overview.ts';

const skip = missingTools({ etcd: 'etcd-server' });
/** Zincati's id: the node's app-specific machine id, 32 lower-case hex digits. */
const FCOS = '9a1b2c3d4e5f60718293a4b5c6d7e8f9';

describe.skipIf(skip !== null)(`${skip ?? ''} FleetLock on the fleet view's port`, () => {
  let etcd: EtcdServer;
  let raw: EtcdGatewayClient;
  let serve: FleetServe;
  beforeAll(async () => {
    etcd = await startEtcd();
    raw = new EtcdGatewayClient({ connection: etcd.connection(), tls: null, callTimeoutMs: 5_000, now: () => Date.now() });
    serve = await startFleetServe(['--etcd', etcd.url, '--group', 'workers']);
  });
  afterAll(async () => {
    await serve?.stop();
    raw?.close();
    await etcd?.stop();
  });

  it('lets a Zincati host, a slipway FleetLock host and a slipway etcd host share one reboot place', async () => {
    const etcdHost = new EtcdLockBackend(raw, { group: 'workers', holdTtlSeconds: 600 });
    const fleetLockHost = new FleetLockClient({ baseUrl: serve.url, group: 'workers', timeoutMs: 5_000 });
    const slipwayRecord = { id: 'slipway-fl', host: 'node-7', since: new Date().toISOString(), targetVersion: '1.4.0' };

    const zincati = await zincatiRequest(serve.url, 'pre-reboot', FCOS, 'workers');
    expect(zincati).toMatchObject({ status: 200, body: '' });
    // Zincati retries pre-reboot until it reboots: still its place (recursive per id).
    expect((await zincatiRequest(serve.url, 'pre-reboot', FCOS, 'workers')).status).toBe(200);
    expect(await fleetLockHost.acquire(slipwayRecord)).toMatchObject({ kind: 'full', reason: expect.stringContaining(`409 (failed_lock: semaphore of group workers is full (held by ${FCOS}))`) as unknown });
    expect(await etcdHost.acquire({ ...slipwayRecord, id: 'slipway-etcd' })).toMatchObject({ kind: 'full', holders: [FCOS] });

    const status = JSON.parse((await runSlipway(['fleet', 'status', '--json', '--etcd', etcd.url, '--group', 'workers'])).stdout) as FleetOverview;
    expect(status.lock.holders).toMatchObject([{ id: FCOS, kind: 'fleetlock', host: `fleetlock:${FCOS}`, expires: 'never' }]);

    // Back from its reboot, Zincati reports steady state; the slipway FleetLock host goes next, then the etcd one.
    expect((await zincatiRequest(serve.url, 'steady-state', FCOS, 'workers')).status).toBe(200);
    expect(await fleetLockHost.acquire(slipwayRecord)).toEqual({ kind: 'acquired', reclaimed: [] });
    expect(await etcdHost.acquire({ ...slipwayRecord, id: 'slipway-etcd' })).toMatchObject({ kind: 'full', holders: ['slipway-fl'] });
    const blocked = await zincatiRequest(serve.url, 'pre-reboot', FCOS, 'workers');
    expect(blocked.status).toBe(409);
    expect(blocked.head).toMatch(/content-type: application\/json/i);
    // As Zincati decodes a rejection: {"kind", "value"}.
    expect(JSON.parse(blocked.body)).toEqual({ kind: 'failed_lock', value: 'semaphore of group workers is full (held by slipway-fl)' });
    expect(await fleetLockHost.release('slipway-fl')).toBe('released');
    expect(await etcdHost.acquire({ ...slipwayRecord, id: 'slipway-etcd' })).toMatchObject({ kind: 'acquired' });
    expect(await etcdHost.release('slipway-etcd')).toBe('released');
    // A steady-state from a node holding nothing is still 200 (UnlockIfHeld).
    expect((await zincatiRequest(serve.url, 'steady-state', FCOS, 'workers')).status).toBe(200);
  });

  it("maps Zincati's default group to locksmith's default semaphore, whatever group the view shows", async () => {
    expect((await zincatiRequest(serve.url, 'pre-reboot', FCOS)).status).toBe(200);
    expect((await new EtcdLockBackend(raw, { group: '', holdTtlSeconds: 600 }).status()).semaphore.holders).toEqual([FCOS]);
    expect((await zincatiRequest(serve.url, 'steady-state', FCOS)).status).toBe(200);
  });

  it('answers nothing else that writes: other methods and paths are refused', async () => {
    const host = new URL(serve.url).host;
    expect((await rawRequest(serve.url, `GET /v1/pre-reboot HTTP/1.1\r\nhost: ${host}\r\nfleet-lock-protocol: true\r\n\r\n`)).status).toBe(405);
    expect((await rawRequest(serve.url, `POST / HTTP/1.1\r\nhost: ${host}\r\ncontent-length: 0\r\n\r\n`)).status).toBe(405);
    expect((await rawRequest(serve.url, `POST /v1/halt HTTP/1.1\r\nhost: ${host}\r\ncontent-length: 0\r\n\r\n`)).status).toBe(404);
  });

  it('stops on SIGTERM with exit 0', async () => {
    const other = await startFleetServe(['--etcd', etcd.url]);
    expect(await other.stop()).toBe(0);
  });
});
