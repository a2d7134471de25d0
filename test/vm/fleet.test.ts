// Scenarios 5 and 4 of the VM suite: three hosts on 1.0.0 share a reboot lock of one place (real
// etcd on the host). host-3 is pinned to 1.0.0 and holds while the others find 1.0.1 by their own
// periodic checks and reboot one at a time; unpinned, it follows. Every value the lock key ever had
// (etcd's revision history) has at most one holder, none came in where the value had no room or
// replaced another in one write, some host waited in line while another held (contention happened),
// and each host gave its place back only after its new boot was confirmed. Then `slipway rollback --reboot` takes host-1 back to 1.0.0 under the lock.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FleetLab } from '../../qemu/fleet-lab.ts';
import { Timings } from '../../qemu/timings.ts';
import { BOOT_MS, contention, lockFree, mark, mostHoldersEver, rebootInto, settled, slipwayIn, unsafeHandoffs } from '../builders/vm-steps.ts';
import { VM_TOOLS } from '../builders/vm-images.ts';
import type { StatusReport } from '../../agent/daemon/agent-status.ts';

const HOSTS = ['host-1', 'host-2', 'host-3'] as const;
const timings = new Timings();

/** What the lock's watcher saw when a host gave its place back: that host's status at that moment. */
interface Release {
  readonly host: string;
  readonly status: StatusReport | null;
}

describe.skipIf(VM_TOOLS !== null)(`${VM_TOOLS ?? ''} a rolling update of three VMs under a lock of one place`, { timeout: 2_400_000 }, () => {
  let dir: string;
  let lab: FleetLab | null = null;
  const machineIds = new Map<string, string>();
  const releases: Release[] = [];
  let watching = false;
  let watcher: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-vm-fleet-'));
    lab = await FleetLab.open({
      dir,
      sharedImages: inject('vmRunImages'),
      hosts: HOSTS,
      first: '1.0.0',
      releases: [{ version: '1.0.1' }],
      maxHolders: 1,
      agentSettings: { update: { first_check: '10s', interval: '15s' } },
      timings,
    });
    const opened = lab;
    await opened.publish('1.0.0');
    await timings.time('boot three hosts at once', () => opened.boot());
    for (const host of HOSTS) machineIds.set((await opened.vm(host).exec('/bin/cat', ['/etc/machine-id'])).stdout.trim(), host);
    // The independent watcher: each time a holder leaves the semaphore, ask that host how it is.
    watching = true;
    watcher = (async () => {
      let previous: readonly string[] = [];
      while (watching) {
        const now = (await opened.semaphore()).holders;
        for (const id of previous.filter((h) => !now.includes(h))) {
          const host = machineIds.get(id) ?? id;
          releases.push({ host, status: await opened.status(host) });
        }
        previous = now;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
  }, BOOT_MS * 2);

  afterAll(async () => {
    watching = false;
    await watcher.catch(() => undefined);
    await lab?.close();
    await rm(dir, { recursive: true, force: true });
    timings.print('VM fleet timings');
  });

  const the = (): FleetLab => {
    if (lab === null) throw new Error('the lab did not start');
    return lab;
  };
  const on = (version: string) => (s: StatusReport) => s.booted.version === version && s.health === 'confirmed' && s.activity === 'idle';

  it('scenario 4: host-3 pinned to 1.0.0 holds while host-1 and host-2 move to 1.0.1 one at a time', async () => {
    const lab = the();
    expect(await slipwayIn(lab, 'host-3', ['pin', '1.0.0'])).toMatchObject({ pinned: '1.0.0' });
    await lab.publish('1.0.1');
    await timings.time('host-1 and host-2 find, download and reboot into 1.0.1', () =>
      Promise.all(['host-1', 'host-2'].map((host) => lab.waitForStatus(host, on('1.0.1'), BOOT_MS * 2))),
    );
    await lockFree(lab);
    const held = await lab.status('host-3');
    expect(held).toMatchObject({ booted: { version: '1.0.0' }, pinned: '1.0.0', state: 'idle' });
    expect(held?.lastCheck?.at).toBeTruthy();
    expect(await slipwayIn(lab, 'host-3', ['check'])).toMatchObject({ result: 'up-to-date', reason: 'pinned to 1.0.0' });
  });

  it('scenario 5: unpinned, host-3 follows; all three moved one at a time, each releasing only after its healthy boot', async () => {
    const lab = the();
    expect(await slipwayIn(lab, 'host-3', ['unpin'])).toMatchObject({ pinned: null });
    await timings.time('host-3 finds, downloads and reboots into 1.0.1', () => lab.waitForStatus('host-3', on('1.0.1'), BOOT_MS * 2));
    await lockFree(lab);
    // The watcher polls; let it see the last release.
    for (const deadline = Date.now() + 30_000; releases.length < HOSTS.length && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 200));
    for (const host of HOSTS) {
      const status = await settled(lab, host);
      expect(status.slots.map((s) => [s.name, s.version, s.successful])).toEqual([
        ['USR-A', '1.0.0', true],
        ['USR-B', '1.0.1', true],
      ]);
    }
    expect(await mostHoldersEver(lab)).toBe(1);
    const history = await lab.lockHistory();
    // No value let a host in without room, or put one holder in another's place in one write.
    expect(unsafeHandoffs(history)).toEqual([]);
    // The lock was contended for real: at some revision a host waited in line while another held it.
    const waits = contention(await lab.lockViews());
    expect(waits.length, 'a host waited in line while another held the place').toBeGreaterThan(0);
    expect(waits.every((w) => w.holders.length === 1)).toBe(true);
    const holders = history.flatMap((r) => r.semaphore.holders).filter((h, i, all) => all.indexOf(h) === i);
    expect(holders.map((id) => machineIds.get(id)).sort()).toEqual([...HOSTS]);
    expect(releases.map((r) => r.host).sort()).toEqual([...HOSTS]);
    for (const release of releases) {
      expect(release.status, `${release.host} when it released the lock`).toMatchObject({ booted: { slot: 'USR-B', version: '1.0.1' }, health: 'confirmed' });
      expect(release.status?.slots.find((s) => s.booted)?.successful).toBe(true);
    }
  });

  it('scenario 4: `slipway rollback --reboot` takes host-1 back to 1.0.0 under the lock', async () => {
    const lab = the();
    const before = mark(lab, 'host-1');
    const rolled = await slipwayIn(lab, 'host-1', ['rollback', '--reboot']);
    expect(rolled).toEqual({ next: 'USR-A', version: '1.0.0', rebooting: true });
    await timings.time('rollback: lock, reboot, boot 1.0.0', () => rebootInto(lab, 'host-1', 'USR-A', before));
    const back = await settled(lab, 'host-1');
    expect(back).toMatchObject({ booted: { slot: 'USR-A', version: '1.0.0' }, skipped: [{ version: '1.0.1', reason: 'rolled back by an operator' }] });
    await lockFree(lab);
    for (const deadline = Date.now() + 30_000; releases.length < HOSTS.length + 1 && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 200));
    const last = releases.at(-1);
    expect(last?.host).toBe('host-1');
    expect(await mostHoldersEver(lab)).toBe(1);
    // Skipped for good: the periodic checks leave it on 1.0.0 although 1.0.1 is the channel's latest.
    expect(await slipwayIn(lab, 'host-1', ['check'])).toMatchObject({ result: 'up-to-date', reason: 'skipping 1.0.1: rolled back by an operator' });
  });
});
