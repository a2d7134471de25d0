// The fleet store against a real etcd: outcomes on leases under the group's keys beside the
// semaphore, read back in time order; halt records set once under racing writers; a resume replaces a
// halt; a corrupt value is reported, not taken.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdGatewayClient } from '../../agent/lock/etcd-gateway-client.ts';
import { EtcdFleetStore, fleetPrefix } from '../../agent/fleet/etcd-fleet-store.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { missingTools } from '../builders/require-tools.ts';
import type { EtcdServer } from '../../qemu/etcd-server.ts';
import type { HaltRecord, HostReport, UpdateOutcome } from '../../agent/fleet/fleet-store.ts';

const skip = missingTools({ etcd: 'etcd-server' });

describe.skipIf(skip !== null)(`${skip ?? ''} EtcdFleetStore`, () => {
  let etcd: EtcdServer;
  let client: EtcdGatewayClient;
  beforeAll(async () => {
    etcd = await startEtcd();
    client = new EtcdGatewayClient({ connection: etcd.connection(), tls: null, callTimeoutMs: 5_000, now: () => Date.now() });
  });
  afterAll(async () => {
    client?.close();
    await etcd?.stop();
  });

  const outcome = (machineId: string, at: string, result: UpdateOutcome['result'] = 'gate-failed'): UpdateOutcome => ({ machineId, host: `h-${machineId}`, version: '1.0.2', from: '1.0.1', result, reason: 'x', at });

  it('keeps outcomes beside the group semaphore, on a lease, and reads them back oldest first', async () => {
    const store = new EtcdFleetStore(client, { group: 'web/eu', outcomeTtlSeconds: 3600 });
    await store.recordOutcome(outcome('m2', '2026-12-03T10:02:00Z'));
    await store.recordOutcome(outcome('m1', '2026-12-03T10:01:00Z', 'succeeded'));
    // A second report of the same host for the same release replaces its first.
    await store.recordOutcome(outcome('m2', '2026-12-03T10:03:00Z'));
    expect((await store.outcomes('1.0.2')).map((o) => [o.machineId, o.at])).toEqual([
      ['m1', '2026-12-03T10:01:00Z'],
      ['m2', '2026-12-03T10:03:00Z'],
    ]);
    expect(fleetPrefix('web/eu')).toBe('coreos.com/updateengine/rebootlock/groups/web%2Feu/fleet/');
    const kv = await client.get(`${fleetPrefix('web/eu')}outcomes/1.0.2/m1`);
    expect(kv?.lease).not.toBe('0');
    expect(await new EtcdFleetStore(client, { group: '', outcomeTtlSeconds: 3600 }).outcomes('1.0.2')).toEqual([]);
  });

  it('sets a halt once when agents race to trip the breaker, and lets a resume replace it', async () => {
    const store = new EtcdFleetStore(client, { group: 'race', outcomeTtlSeconds: 3600 });
    const halts = Array.from({ length: 8 }, (_v, i): HaltRecord => ({ version: '2.0.0', state: 'halted', by: 'breaker', reason: `tripped by agent ${i}`, at: `2026-12-03T10:00:0${i}Z` }));
    const results = await Promise.all(halts.map((h) => new EtcdFleetStore(client, { group: 'race', outcomeTtlSeconds: 3600 }).setHalt(h)));
    const stored = await store.halt('2.0.0');
    // Every agent learns the one record that won.
    expect(new Set(results.map((r) => r.reason))).toEqual(new Set([stored?.reason]));
    const resumed = await store.setHalt({ version: '2.0.0', state: 'resumed', by: 'operator', reason: 'resumed by ops', at: '2026-12-03T11:00:00Z' });
    expect(resumed.state).toBe('resumed');
    expect(await store.halt('2.0.0')).toEqual(resumed);
  });

  it('lists every release outcome and halts, and keeps one report per host without a lease', async () => {
    const store = new EtcdFleetStore(client, { group: 'all', outcomeTtlSeconds: 3600 });
    await store.recordOutcome({ ...outcome('m1', '2026-12-03T10:05:00Z'), version: '1.0.3' });
    await store.recordOutcome(outcome('m1', '2026-12-03T10:01:00Z', 'succeeded'));
    expect((await store.allOutcomes()).map((o) => o.version)).toEqual(['1.0.2', '1.0.3']);
    await store.setHalt({ version: '1.0.3', state: 'halted', by: 'operator', reason: 'bad', at: '2026-12-03T10:06:00Z' });
    expect((await store.halts()).map((h) => [h.version, h.state])).toEqual([['1.0.3', 'halted']]);
    const report: HostReport = { machineId: 'm/1', host: 'web-1', version: '1.0.2', slot: 'USR-A', activity: 'idle', health: 'confirmed', staged: null, waitingForWave: null, at: '2026-12-03T10:07:00Z' };
    await store.recordHost(report);
    await store.recordHost({ ...report, activity: 'waiting-to-reboot', staged: '1.0.3', at: '2026-12-03T10:08:00Z' });
    await store.recordHost({ ...report, machineId: 'm0', host: 'db-1' });
    expect((await store.hosts()).map((h) => [h.host, h.activity])).toEqual([['db-1', 'idle'], ['web-1', 'waiting-to-reboot']]);
    const kv = await client.get(`${fleetPrefix('all')}hosts/m%2F1`);
    expect(kv?.lease ?? '0').toBe('0');
  });

  it('reports a corrupt value with its key', async () => {
    await client.put(`${fleetPrefix('bad')}halted/3.0.0`, '{not json');
    await expect(new EtcdFleetStore(client, { group: 'bad', outcomeTtlSeconds: 60 }).halt('3.0.0')).rejects.toMatchObject({ code: 'ERR_FLEET_CORRUPT', message: `${fleetPrefix('bad')}halted/3.0.0 in etcd is not JSON` });
  });
});
