// The reboot lock's lease under the real agent process, a real etcd and a logind stand-in on a private
// bus, with a lease of 5 s so that "longer than a lease" takes seconds. A block inhibitor holds the
// agent's reboot while it holds the only place: kept alive, the place survives many leases; frozen
// (SIGSTOP) past its lease, the agent loses it to another host and, thawed, does not reboot. After a
// reboot, a slow health gate keeps the place the host rebooted under until it releases it.

import { afterEach, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openEtcdLockBackend } from '../../agent/lock/etcd-lock-backend.ts';
import { startAgentFixture } from '../builders/agent-fixture.ts';
import { run } from '../builders/coreos-disk.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import type { AgentFixture } from '../builders/agent-fixture.ts';
import type { EtcdLockBackend } from '../../agent/lock/etcd-lock-backend.ts';

const skip = missingTools({ ...SGDISK, etcd: 'etcd-server', 'dbus-daemon': 'dbus-daemon' });
const LEASE_S = 5;
const BACKUP: [string, string, string, string, number, number] = ['shutdown', 'backup-job', 'copying snapshots', 'block', 0, 4242];

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe.skipIf(skip !== null)(`${skip ?? ''} the agent's place in the reboot lock, over more than one lease`, { timeout: 120_000 }, () => {
  let fixture: AgentFixture | null = null;
  let other: EtcdLockBackend | null = null;

  afterEach(async () => {
    other?.close();
    other = null;
    await fixture?.close();
    fixture = null;
  });

  /** An agent with 1.0.1 staged that holds the only place while a block inhibitor holds its reboot. */
  const holdingBehindAnInhibitor = async (): Promise<{ agent: AgentFixture; lock: EtcdLockBackend; id: string }> => {
    const agent = await startAgentFixture({ settings: { lock: { etcd: { lease: `${LEASE_S}s` } }, reboot: { inhibitor_wait: '10m' } } });
    fixture = agent;
    agent.logind.manager.inhibitors = [BACKUP];
    const lock = await openEtcdLockBackend({ connection: agent.etcd.connection(), group: '', holdTtlSeconds: LEASE_S, callTimeoutMs: 5_000, now: () => Date.now() });
    other = lock;
    expect(await agent.slipway(['update', '--now'])).toMatchObject({ code: 0 });
    const id = await until('the agent to take the place', async () => (await lock.status()).semaphore.holders[0] ?? null);
    await until('the agent to wait for the inhibitor', () => Promise.resolve(agent.agentLog().includes('reboot waits for backup-job (copying snapshots)') ? true : null));
    return { agent, lock, id };
  };

  it('keeps its place while an inhibitor holds the reboot for several leases, then reboots once it is gone', async () => {
    const { agent, lock, id } = await holdingBehindAnInhibitor();
    await sleep(3 * LEASE_S * 1000);
    const held = await lock.status();
    expect(held.semaphore.holders).toEqual([id]);
    expect(held.holders).toMatchObject([{ id, alive: true }]);
    // Another host finds the place taken, and nothing it may reclaim.
    expect(await lock.acquire({ id: 'other-host', host: 'other', since: new Date().toISOString(), targetVersion: '1.0.1' })).toMatchObject({ kind: 'full' });
    expect(agent.logind.manager.reboots).toEqual([]);
    agent.logind.manager.inhibitors = [];
    await until('the reboot', () => Promise.resolve(agent.logind.manager.reboots.length > 0 ? true : null));
    expect(agent.logind.manager.reboots).toEqual([false]);
    expect((await lock.status()).semaphore.holders).toEqual([id]);
  });

  it('frozen past its lease, loses the place to another host and, thawed, does not reboot; it waits in line and reboots after that host', async () => {
    const { agent, lock, id } = await holdingBehindAnInhibitor();
    agent.signalAgent('SIGSTOP');
    try {
      // Frozen until etcd itself has dropped the lease (however long a loaded machine makes that).
      await until('etcd to drop the frozen agent\'s lease', async () => ((await lock.status()).holders.find((h) => h.id === id)?.alive === false ? true : null), 60_000);
      // Held without a lease: a place on a lease nobody renews would lapse after LEASE_S, and on a
      // loaded machine the thawed agent could then reclaim it fairly, before the checks below.
      const taken = await lock.hold({ id: 'other-host', host: 'other', since: new Date().toISOString(), targetVersion: '1.0.1' }, { kind: 'permanent' });
      expect(taken).toEqual({ kind: 'acquired', reclaimed: [id] });
      // The inhibitor is gone when the agent wakes: only etcd's answer stops it from rebooting.
      agent.logind.manager.inhibitors = [];
    } finally {
      agent.signalAgent('SIGCONT');
    }
    await until('the agent to notice', () => Promise.resolve(/lost the (place in the )?reboot lock/.test(agent.agentLog()) ? true : null), 30_000);
    await sleep(2_000);
    expect(agent.logind.manager.reboots).toEqual([]);
    expect((await lock.status()).semaphore.holders).toEqual(['other-host']);
    // The other host is done: the agent, asking again, takes the place and reboots.
    expect(await lock.release('other-host')).toBe('released');
    await until('the reboot', () => Promise.resolve(agent.logind.manager.reboots.length > 0 ? true : null));
    expect((await lock.status()).semaphore.holders).toEqual([id]);
  });

  it('keeps the place it rebooted under through a health gate longer than several leases, then releases it', async () => {
    const agent = await startAgentFixture({ startAgent: false, settings: { lock: { etcd: { lease: `${LEASE_S}s` } }, health: { timeout: '5m' } } });
    fixture = agent;
    // USR-A is on trial (the reboot into it just happened): priority 2, tries 2, not yet successful.
    await run('sgdisk', ['-A', '3:clear:56', '-A', '3:clear:48', '-A', '3:set:49', '-A', '3:set:53', join(agent.dir, 'disk.img')]);
    agent.systemd.manager.active.set('multi-user.target', 'activating');
    const lock = await openEtcdLockBackend({ connection: agent.etcd.connection(), group: '', holdTtlSeconds: LEASE_S, callTimeoutMs: 5_000, now: () => Date.now() });
    other = lock;
    // The place this host took before rebooting, on a lease of its own.
    const id = (await readFile('/etc/machine-id', 'utf8')).trim();
    expect((await lock.acquire({ id, host: 'this-host', since: new Date().toISOString(), targetVersion: '1.0.0' })).kind).toBe('acquired');
    await agent.startAgent();
    await sleep(3 * LEASE_S * 1000);
    const held = await lock.status();
    expect(held.semaphore.holders).toEqual([id]);
    expect(held.holders).toMatchObject([{ id, alive: true }]);
    expect(await lock.acquire({ id: 'other-host', host: 'other', since: new Date().toISOString(), targetVersion: '1.0.1' })).toMatchObject({ kind: 'full' });
    // The gate passes: the slot is marked good, then the place is given back.
    agent.systemd.manager.active.set('multi-user.target', 'active');
    await until('the release after the gate', async () => ((await lock.status()).semaphore.holders.length === 0 ? true : null));
    expect(agent.agentLog()).toContain('passed its health gate');
  });
});
