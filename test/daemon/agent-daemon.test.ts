// `slipway agent` and the operator CLI end to end: the real agent process on a private bus with the
// system bus's policy plus slipway's policy file, a real etcd, a loopback release server, a
// sgdisk-made disk image, and systemd/logind stand-ins. Status, plan, pin, check with a staged
// update and a reboot under the lock, rollback refusal, permission denial, and error exit codes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AGENT_POLICY, startAgentFixture } from '../builders/agent-fixture.ts';
import { startSystemLikeBus } from '../builders/dbus-daemon.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import type { AgentFixture } from '../builders/agent-fixture.ts';

const skip = missingTools({ ...SGDISK, etcd: 'etcd-server', 'dbus-daemon': 'dbus-daemon' });
const NOBODY = 65534;

describe.skipIf(skip !== null)(`${skip ?? ''} slipway agent with the CLI over D-Bus`, () => {
  let fixture: AgentFixture;
  const slipway = (args: string[], uid?: number): ReturnType<AgentFixture['slipway']> => fixture.slipway(args, uid);

  beforeAll(async () => {
    fixture = await startAgentFixture();
  });
  afterAll(async () => {
    await fixture.close();
  });

  it('reports status: both slots, the booted version, idle and confirmed', async () => {
    const result = await slipway(['status', '--json']);
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout) as { state: string; health: string; booted: unknown; slots: { name: string; version: string | null; booted: boolean; next: boolean }[] };
    expect(status).toMatchObject({ state: 'idle', health: 'confirmed', booted: { slot: 'USR-A', version: '1.0.0' }, strategy: 'etcd-lock' });
    expect(status.slots.map((s) => [s.name, s.version, s.booted, s.next])).toEqual([
      ['USR-A', '1.0.0', true, true],
      ['USR-B', null, false, false],
    ]);
    const human = await slipway(['status']);
    expect(human.stdout).toContain('● USR-A  1.0.0      booted, next, good\n');
    expect(human.stdout).toContain('Reboot lock: free; 0 of 1 places taken\n');
  });

  it('says in status when first boot\'s cloud-config apply failed, until one succeeds', async () => {
    const missing = join(fixture.dir, 'no-user-data');
    const apply = await slipway(['cloud-config', 'apply', '--from-file', missing, '--first-boot']);
    expect(apply.code).toBe(1);
    const human = await slipway(['status']);
    expect(human.stdout).toMatch(new RegExp(`^First boot: cloud-config not applied \\(since \\d{4}-[^)]+\\): no user-data at ${missing} \\[ERR_DATASOURCE\\]; slipway-cloudinit.service tries again at the next boot$`, 'm'));
    const json = JSON.parse((await slipway(['status', '--json'])).stdout) as { firstBoot: unknown };
    expect(json.firstBoot).toMatchObject({ code: 'ERR_DATASOURCE', message: `no user-data at ${missing}` });
    await rm(join(fixture.dir, 'state', 'cloud-config.pending'));
    expect(JSON.parse((await slipway(['status', '--json'])).stdout)).toMatchObject({ firstBoot: null });
    expect((await slipway(['status'])).stdout).not.toContain('First boot');
  });

  it('lets anyone read the status, and only root change anything', async () => {
    const read = await slipway(['status', '--json'], NOBODY);
    expect(read.code).toBe(0);
    const pin = await slipway(['pin', '1.0.1'], NOBODY);
    expect(pin.code).toBe(10);
    expect(pin.stderr).toContain('only root may ask the agent to do that');
    const check = await slipway(['check'], NOBODY);
    expect(check.code).toBe(10);
  });

  it('plans, and honours a pin to the running version until unpinned', async () => {
    const plan = await slipway(['plan']);
    expect(plan).toMatchObject({ code: 0 });
    expect(plan.stdout).toContain('would install 1.0.1 into USR-B: 1.0.1 is newer than the running 1.0.0\n');
    // What the install would download: a format-4 release is fetched as a delta from what the slots hold.
    expect(plan.stdout).toMatch(/\nwould fetch [\d.]+ [KMG]?i?B in \d+ requests? \(delta: /);
    const json = JSON.parse((await slipway(['plan', '--json'])).stdout) as { plan: { fetch?: { path: string; bytes: number; requests: number } } };
    expect(json.plan.fetch).toMatchObject({ path: 'delta', bytes: expect.any(Number) as number, requests: expect.any(Number) as number });
    expect(await slipway(['pin', '1.0.0'])).toMatchObject({ code: 0, stdout: 'pinned to 1.0.0\n' });
    expect(await slipway(['check'])).toMatchObject({ code: 0, stdout: 'up to date: pinned to 1.0.0\n' });
    expect(await slipway(['unpin', '--json'])).toMatchObject({ code: 0, stdout: '{"pinned":null}\n' });
  });

  it('refuses a rollback to a slot that never booted', async () => {
    const result = await slipway(['rollback']);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/USR-B/);
  });

  it('checks, stages the update with progress, takes the etcd lock and reboots through logind', async () => {
    const result = await slipway(['check']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('staged 1.0.1 in USR-B; it boots at the next reboot (per the reboot strategy)\n');
    // Off a terminal the progress bar prints one line per signal: the last one is the whole payload.
    const bars = result.stderr.split('\n').filter((line) => line.startsWith('1.0.1 ['));
    expect(bars.length).toBeGreaterThan(1);
    expect(bars.at(-1)).toMatch(/^1\.0\.1 \[#{20}\] 100% {2}1\.0 MiB\/1\.0 MiB /);
    // The reboot runs after the check returns: wait until the agent says it is rebooting.
    let status: { state: string; activity: string; slots: { name: string; version: string | null; next: boolean }[] };
    do status = JSON.parse((await slipway(['status', '--json'])).stdout) as typeof status;
    while (status.activity !== 'rebooting');
    expect(status.state).toBe('updated-need-reboot');
    expect(status.slots.find((s) => s.next)).toMatchObject({ name: 'USR-B', version: '1.0.1' });
    const lock = await slipway(['lock', 'status', '--etcd', fixture.etcd.url, '--json']);
    const holders = (JSON.parse(lock.stdout) as { semaphore: { holders: string[] } }).semaphore.holders;
    expect(holders).toHaveLength(1);
    expect(fixture.logind.manager.reboots).toEqual([false]);
    const report = JSON.parse((await slipway(['status', '--json'])).stdout) as { lock: unknown };
    expect(report.lock).toEqual({ max: 1, holders, heldByThisHost: true });
  });

  it('maps usage errors and an absent agent to their exit codes', async () => {
    expect((await slipway(['pin', 'latest'])).code).toBe(2);
    const empty = await startSystemLikeBus([AGENT_POLICY]);
    try {
      const absent = await runSlipway(['status'], { env: { ...fixture.env, DBUS_SYSTEM_BUS_ADDRESS: empty.address } });
      expect(absent.code).toBe(11);
      expect(absent.stderr).toContain('the slipway agent is not running');
    } finally {
      await empty.stop();
    }
    const noBus = await runSlipway(['status'], { env: { ...fixture.env, DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(fixture.dir, 'no-bus')}` } });
    expect(noBus.code).toBe(11);
    expect(noBus.stderr).toContain('cannot connect to the system bus');
  });
});
