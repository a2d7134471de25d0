// The circuit breaker under the real agent process, a real etcd, a loopback release server and real
// gpg: a release other hosts failed is not downloaded and status says who halted it and why; a resume
// lets it go; a release whose payload is bad is recorded as apply-failed; without an etcd lock
// nothing is recorded and status says the breaker is off.

import { afterEach, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EtcdGatewayClient } from '../../agent/lock/etcd-gateway-client.ts';
import { EtcdFleetStore, fleetPrefix } from '../../agent/fleet/etcd-fleet-store.ts';
import { PAYLOAD_FILE } from '../../images/publish-release.ts';
import { startAgentFixture } from '../builders/agent-fixture.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import type { AgentFixture, AgentFixtureOptions } from '../builders/agent-fixture.ts';
import type { BreakerView } from '../../agent/fleet/fleet-agent.ts';
import type { UpdateOutcome } from '../../agent/fleet/fleet-store.ts';

const skip = missingTools({ ...SGDISK, etcd: 'etcd-server', 'dbus-daemon': 'dbus-daemon' });

interface Status {
  state: string;
  slots: { name: string; version: string | null }[];
  breaker: BreakerView;
}

describe.skipIf(skip !== null)(`${skip ?? ''} the agent and the fleet's circuit breaker`, { timeout: 60_000 }, () => {
  let fixture: AgentFixture | null = null;
  let client: EtcdGatewayClient | null = null;
  afterEach(async () => {
    client?.close();
    client = null;
    await fixture?.close();
    fixture = null;
  });

  const start = async (options: AgentFixtureOptions = {}): Promise<{ agent: AgentFixture; store: EtcdFleetStore }> => {
    const agent = await startAgentFixture(options);
    fixture = agent;
    client = new EtcdGatewayClient({ connection: agent.etcd.connection(), tls: null, callTimeoutMs: 5_000, now: () => Date.now() });
    return { agent, store: new EtcdFleetStore(client, { group: '', outcomeTtlSeconds: 3600 }) };
  };
  const status = async (agent: AgentFixture): Promise<Status> => JSON.parse((await agent.slipway(['status', '--json'])).stdout) as Status;
  const failedOn = (machineId: string): UpdateOutcome => ({ machineId, host: `host-${machineId}`, version: '1.0.1', from: '1.0.0', result: 'gate-failed', reason: 'critical unit failed: app.service', at: new Date().toISOString() });

  it('does not download a release other hosts failed: the breaker halts it, status says by whom and why; a resume lets it go', async () => {
    const { agent, store } = await start();
    for (const id of ['m1', 'm2', 'm3']) await store.recordOutcome(failedOn(id));
    const check = await agent.slipway(['check']);
    expect(check).toMatchObject({ code: 0 });
    expect(check.stdout).toBe('up to date: 1.0.1 is halted fleet-wide by the circuit breaker: 3 of 3 hosts failed 1.0.1 (last: host-m3, gate-failed: critical unit failed: app.service)\n');
    // Nothing fetched into the other slot, nothing charged or skipped here.
    const halted = await status(agent);
    expect(halted).toMatchObject({ state: 'idle', skipped: [] });
    expect(halted.slots.find((s) => s.name === 'USR-B')?.version).toBeNull();
    expect(await store.halt('1.0.1')).toMatchObject({ state: 'halted', by: 'breaker' });
    expect(halted.breaker).toMatchObject({ state: 'on', failures: 3, fraction: 0.2, halted: [{ version: '1.0.1', by: 'breaker' }] });
    expect((await agent.slipway(['status'])).stdout).toMatch(/^Circuit breaker: on; halts a release at 3 failed hosts and 20% of those that tried it\n {2}1\.0\.1 halted by breaker at \S+: 3 of 3 hosts failed 1\.0\.1/m);
    expect((await agent.slipway(['plan'])).stdout).toContain('1.0.1 is halted fleet-wide');
    // Its report is in etcd: where it stands, one key per host.
    const machineId = (await readFile('/etc/machine-id', 'utf8')).trim();
    expect((await store.hosts()).map((h) => [h.machineId, h.version, h.staged])).toEqual([[machineId, '1.0.0', null]]);

    await store.setHalt({ version: '1.0.1', state: 'resumed', by: 'operator', reason: 'fixed the unit', at: new Date().toISOString() });
    expect(await agent.slipway(['check'])).toMatchObject({ code: 0, stdout: 'staged 1.0.1 in USR-B; it boots at the next reboot (per the reboot strategy)\n' });
    expect((await status(agent)).breaker).toMatchObject({ state: 'on', halted: [] });
  });

  it('records a release whose payload hashes wrong as apply-failed, with the reason', async () => {
    const { agent, store } = await start();
    const payload = join(agent.dir, 'www', 'stable', 'releases', '1.0.1', PAYLOAD_FILE);
    const bytes = await readFile(payload);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    await writeFile(payload, bytes);
    const check = await agent.slipway(['check']);
    expect(check.code).not.toBe(0);
    const machineId = (await readFile('/etc/machine-id', 'utf8')).trim();
    let outcomes: readonly UpdateOutcome[] = [];
    // Written in the background after the check: read until it is there.
    for (let i = 0; i < 200 && outcomes.length === 0; i++) outcomes = await store.outcomes('1.0.1');
    expect(outcomes).toMatchObject([{ machineId, version: '1.0.1', from: '1.0.0', result: 'apply-failed' }]);
    expect(outcomes[0]?.reason).toMatch(/^ERR_PAYLOAD_(CORRUPT|HASH_MISMATCH|SIZE_MISMATCH): /);
  });

  it('a transport fault is never recorded as the release\'s failure', async () => {
    const { agent, store } = await start();
    await agent.server.close();
    expect((await agent.slipway(['check'])).code).not.toBe(0);
    expect(await store.allOutcomes()).toEqual([]);
  });

  it('without an etcd lock records nothing and status says the breaker is off', async () => {
    const { agent } = await start({ settings: { reboot: { strategy: 'reboot' } } });
    expect(await agent.slipway(['check'])).toMatchObject({ code: 0, stdout: 'staged 1.0.1 in USR-B; it boots at the next reboot (per the reboot strategy)\n' });
    const report = await status(agent);
    expect(report.breaker).toEqual({ state: 'off', reason: 'reboot strategy reboot keeps no fleet store in etcd' });
    expect((await agent.slipway(['status'])).stdout).toContain('\nCircuit breaker: off (reboot strategy reboot keeps no fleet store in etcd)\n');
    expect((await client?.range(fleetPrefix(''), { prefix: true }))?.kvs).toEqual([]);
  });
});
