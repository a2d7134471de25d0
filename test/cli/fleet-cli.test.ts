// `slipway fleet status|halt|resume` as operators run them, against a real etcd on loopback: the
// hosts' reports and outcomes written as agents write them, halts by the breaker and by hand, the
// reboot places' holders, quiet hosts; usage errors and an unreachable etcd with their exit codes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdGatewayClient } from '../../agent/lock/etcd-gateway-client.ts';
import { EtcdFleetStore } from '../../agent/fleet/etcd-fleet-store.ts';
import { EtcdLockBackend } from '../../agent/lock/etcd-lock-backend.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { missingTools } from '../builders/require-tools.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import { hostReport, updateOutcome } from '../builders/fleet-reports.ts';
import type { EtcdServer } from '../../qemu/etcd-server.ts';
import type { FleetOverview } from '../../agent/fleet/fleet-overview.ts';

const skip = missingTools({ etcd: 'etcd-server' });
let etcd: EtcdServer;
let raw: EtcdGatewayClient;
beforeAll(async () => {
  if (skip !== null) return;
  etcd = await startEtcd();
  raw = new EtcdGatewayClient({ connection: etcd.connection(), tls: null, callTimeoutMs: 5_000, now: () => Date.now() });
});
afterAll(async () => {
  if (skip !== null) return;
  raw.close();
  await etcd.stop();
});

const fleet = (group: string, ...args: string[]): ReturnType<typeof runSlipway> => runSlipway(['fleet', ...args, '--etcd', etcd.url, '--group', group]);
/** Minutes before now, as an agent's report time: the CLI judges quiet by its own clock. */
const minutesAgo = (m: number): string => new Date(Date.now() - m * 60_000).toISOString();

describe.skipIf(skip !== null)(`${skip ?? ''} slipway fleet`, () => {
  it('shows per release the hosts running, staged, waiting and failed with reasons, the halt, the holders and the quiet hosts', async () => {
    const store = new EtcdFleetStore(raw, { group: 'web', outcomeTtlSeconds: 3600 });
    await store.recordHost(hostReport('web-1', '1.0.2', minutesAgo(1)));
    await store.recordHost(hostReport('web-2', '1.0.1', minutesAgo(2), { staged: '1.0.2', activity: 'waiting-to-reboot' }));
    await store.recordHost(hostReport('web-3', '1.0.1', minutesAgo(3), { waitingForWave: { version: '1.0.2', until: '2030-01-01T00:00:00.000Z' } }));
    await store.recordHost(hostReport('web-4', '1.0.1', minutesAgo(3 * 60)));
    await store.recordOutcome(updateOutcome('web-1', '1.0.2', 'succeeded', minutesAgo(10)));
    await store.recordOutcome(updateOutcome('web-5', '1.0.2', 'gate-failed', minutesAgo(5), 'app.service failed its probe'));
    await store.setHalt({ version: '1.0.2', state: 'halted', by: 'breaker', reason: '1 of 2 hosts failed 1.0.2', at: minutesAgo(4) });
    await new EtcdLockBackend(raw, { group: 'web', holdTtlSeconds: 600 }).acquire({ id: 'id-web-2', host: 'web-2', since: minutesAgo(1), targetVersion: '1.0.2' });

    const json = await fleet('web', 'status', '--json');
    expect(json.code).toBe(0);
    const overview = JSON.parse(json.stdout) as FleetOverview;
    expect(overview.versions.map((v) => [v.version, v.running, v.staged, v.waitingForWave, v.failures.length, v.halt?.by])).toEqual([
      ['1.0.2', 1, 1, 1, 1, 'breaker'],
      ['1.0.1', 3, 0, 0, 0, undefined],
    ]);
    expect(overview.versions[0]?.failures[0]).toMatchObject({ host: 'web-5', result: 'gate-failed', reason: 'app.service failed its probe' });
    expect(overview.lock.holders).toMatchObject([{ id: 'id-web-2', kind: 'agent', host: 'web-2', targetVersion: '1.0.2', alive: true }]);
    expect(overview.quiet.map((h) => h.host)).toEqual(['web-4']);

    const text = (await fleet('web', 'status')).stdout;
    expect(text).toMatch(/^group web: 4 hosts reporting, 1 of 1 reboot places held/);
    expect(text).toMatch(/\n1\.0\.2 +1 +1 +1 +1 +HALTED by breaker\n1\.0\.1 +3 +0 +0 +0 +open\n/);
    expect(text).toContain('  halted by breaker at');
    expect(text).toContain('  web-5 gate-failed at');
    expect(text).toContain(': app.service failed its probe\n');
    expect(text).toMatch(/\n {2}id-web-2 \[agent\]: web-2, since .*, to 1\.0\.2\n/);
    expect(text).toMatch(/quiet for over 30m:\n {2}web-4 \(id-web-4\): last seen .*, 3h ago, at 1\.0\.1\n$/);
    // A longer bound: nobody is quiet.
    expect((await fleet('web', 'status', '--quiet-after', '4h')).stdout).toMatch(/quiet for over 4h:\n {2}none\n$/);
  });

  it('halts a release by hand and resumes it, and says so when there is nothing to do', async () => {
    const store = new EtcdFleetStore(raw, { group: 'ops', outcomeTtlSeconds: 3600 });
    expect(await fleet('ops', 'resume', '2.0.0')).toMatchObject({ code: 0, stdout: '2.0.0 is not halted\n' });
    // Resuming nothing writes nothing: it would forgive failures the breaker still counts.
    expect(await store.halt('2.0.0')).toBeNull();
    expect(await fleet('ops', 'halt', '2.0.0', '--reason', 'disk errors on canaries')).toMatchObject({ code: 0, stdout: 'halted 2.0.0\n' });
    expect(await store.halt('2.0.0')).toMatchObject({ state: 'halted', by: 'operator', reason: 'disk errors on canaries' });
    expect((await fleet('ops', 'halt', '2.0.0')).stdout).toMatch(/^2\.0\.0 was already halted by operator at .*: disk errors on canaries\n$/);
    expect(await fleet('ops', 'resume', '2.0.0', '--reason', 'fixed')).toMatchObject({ code: 0, stdout: 'resumed 2.0.0 (it was halted by operator: disk errors on canaries)\n' });
    expect(await store.halt('2.0.0')).toMatchObject({ state: 'resumed', by: 'operator', reason: 'fixed' });
    expect((await fleet('ops', 'resume', '2.0.0')).stdout).toMatch(/^2\.0\.0 is not halted \(resumed by operator at .*\)\n$/);
    // A breaker's halt is lifted the same way.
    await store.setHalt({ version: '2.0.1', state: 'halted', by: 'breaker', reason: 'tripped', at: new Date().toISOString() });
    expect((await fleet('ops', 'resume', '2.0.1')).stdout).toBe('resumed 2.0.1 (it was halted by breaker: tripped)\n');
  });

  it.each([
    [['halt'], 'fleet halt needs a VERSION'],
    [['halt', '1.0 beta'], '"1.0 beta" is not a version'],
    [['status', 'extra'], 'unexpected arguments: extra'],
    [['status', '--reason', 'x'], 'fleet status does not take --reason'],
    [['status', '--quiet-after', 'soon'], '--quiet-after "soon" is not a duration'],
    [['launch'], 'unknown fleet action "launch"'],
    [['serve', '--listen', '0.0.0.0:9339'], '--listen 0.0.0.0:9339 is not a loopback address'],
    [['serve', '--listen', 'nowhere'], '--listen "nowhere" is not HOST:PORT'],
  ])('refuses %j as a usage error (exit 2)', async (args, message) => {
    const run = await fleet('ops', ...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });

  it('shows the rest of the fleet when one report is JSON of the wrong shape', async () => {
    const store = new EtcdFleetStore(raw, { group: 'odd', outcomeTtlSeconds: 3600 });
    await store.recordHost(hostReport('web-1', '1.0.2', minutesAgo(1)));
    await raw.put('coreos.com/updateengine/rebootlock/groups/odd/fleet/hosts/m9', JSON.stringify({ machineId: 'm9', host: 9, version: ['x'] }));
    const run = await fleet('odd', 'status', '--json');
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as FleetOverview).hosts.map((h) => [h.host, h.version])).toEqual([
      ['9', '?'],
      ['web-1', '1.0.2'],
    ]);
  });

  it('exits 7 when etcd cannot be reached, and 9 when a record in etcd is corrupt', async () => {
    const down = await runSlipway(['fleet', 'status', '--etcd', 'http://127.0.0.1:1', '--group', 'x']);
    expect(down.code).toBe(7);
    expect(down.stderr).toContain('ERR_LOCK_UNAVAILABLE');
    await raw.put('coreos.com/updateengine/rebootlock/groups/bad/fleet/hosts/m1', '{torn');
    const corrupt = await fleet('bad', 'status');
    expect(corrupt.code).toBe(9);
    expect(corrupt.stderr).toContain('coreos.com/updateengine/rebootlock/groups/bad/fleet/hosts/m1 in etcd is not JSON [ERR_FLEET_CORRUPT]');
  });
});
