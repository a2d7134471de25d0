// reboot.before end to end: the real agent holding a real etcd place runs the operator's drain unit
// through systemd (the stand-in on a private bus) before arming the slot; a drain that fails postpones
// the reboot, gives the place back and shows in `slipway status`; once it succeeds the host reboots.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentFixture } from '../builders/agent-fixture.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import type { AgentFixture } from '../builders/agent-fixture.ts';

const skip = missingTools({ ...SGDISK, etcd: 'etcd-server', 'dbus-daemon': 'dbus-daemon' });

interface Report {
  activity: string;
  rebootHooks: { kind: string; at: string; failed: { unit: string; reason: string } | null }[];
}

describe.skipIf(skip !== null)(`${skip ?? ''} reboot.before hooks`, () => {
  let fixture: AgentFixture;

  beforeAll(async () => {
    fixture = await startAgentFixture({ settings: { reboot: { before: ['drain.service'], hook_timeout: '30s' } } });
  });
  afterAll(async () => {
    await fixture.close();
  });

  const report = async (): Promise<Report> => JSON.parse((await fixture.slipway(['status', '--json'])).stdout) as Report;
  const holders = async (): Promise<string[]> =>
    (JSON.parse((await fixture.slipway(['lock', 'status', '--etcd', fixture.etcd.url, '--json'])).stdout) as { semaphore: { holders: string[] } }).semaphore.holders;

  it('postpones the reboot and gives the place back while the drain fails, and reboots once it succeeds', async () => {
    const units = fixture.systemd.manager.loaded;
    units.set('drain.service', '[Service]\nType=oneshot\nExecStart=/bin/false\n');
    expect((await fixture.slipway(['check'])).code).toBe(0);

    let status: Report;
    do status = await report();
    while (status.rebootHooks.length === 0);
    expect(status.rebootHooks).toEqual([{ kind: 'before', at: expect.any(String) as string, failed: { unit: 'drain.service', reason: 'ended "failed" (see journalctl -u drain.service)' } }]);
    const human = (await fixture.slipway(['status'])).stdout;
    expect(human).toMatch(/^Reboot hook before \(at \S+\): drain\.service ended "failed" \(see journalctl -u drain\.service\); the reboot is postponed and the lock given back$/m);
    expect(fixture.logind.manager.reboots).toEqual([]);
    expect(fixture.systemd.calls).toContain('StartUnit drain.service replace');
    expect(fixture.agentLog()).toContain('reboot postponed: reboot.before drain.service ended \\"failed\\" (see journalctl -u drain.service); the reboot lock is given back and asked for again later');

    units.set('drain.service', '[Service]\nType=oneshot\nExecStart=/bin/true\n');
    do status = await report();
    while (status.activity !== 'rebooting');
    expect(status.rebootHooks).toEqual([{ kind: 'before', at: expect.any(String) as string, failed: null }]);
    expect(fixture.logind.manager.reboots).toEqual([false]);
    expect(await holders()).toHaveLength(1);
  });
});
