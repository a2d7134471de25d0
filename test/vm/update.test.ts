// Scenario 1 of the VM suite: a host on 1.0.0 finds 1.0.1 in its channel (a loopback server on
// the host, 10.0.2.2 from the guest), downloads it into USR-B, takes the etcd lock (real etcd on the
// host), reboots, comes up on 1.0.1 through GRUB's tries, passes the health gate, marks the slot
// good and releases the lock.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publishRelease } from '../../images/publish-release.ts';
import { makeConfigDrive, Vm } from '../../qemu/vm.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import { buildVmImages, Timings, VM_TOOLS } from '../builders/vm-images.ts';
import type { EtcdServer } from '../../qemu/etcd-server.ts';
import type { ReleaseServer } from '../../qemu/release-server.ts';

const timings = new Timings();
const guestUrl = (url: string): string => url.replace('127.0.0.1', '10.0.2.2');

describe.skipIf(VM_TOOLS !== null)(`${VM_TOOLS ?? ''} an update in a VM under the etcd lock`, { timeout: 900_000 }, () => {
  let dir: string;
  let vm: Vm | null = null;
  let etcd: EtcdServer | null = null;
  let server: ReleaseServer | null = null;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-vm-update-'));
    const images = await buildVmImages(dir, '1.0.0', ['1.0.1'], timings);
    const slot = images.slots['1.0.1'];
    if (slot === undefined) throw new Error('no 1.0.1 slot');
    await timings.time('publish 1.0.1', () =>
      publishRelease({ image: slot, version: '1.0.1', channel: 'stable', arch: 'x86_64', board: 'qemu', privateKeyArmored: images.key.privateArmored, outDir: join(dir, 'www'), now: new Date(), expiresInSeconds: 86_400 }),
    );
    server = await startReleaseServer(join(dir, 'www'));
    etcd = await startEtcd();
    await makeConfigDrive(
      join(dir, 'configdrive.img'),
      `#cloud-config\nhostname: host-1\ncoreos:\n  update:\n    server: ${guestUrl(server.url)}\n    group: stable\n    reboot_strategy: etcd-lock\n  locksmith:\n    endpoint: ${guestUrl(etcd.url)}\n`,
    );
    const created = await Vm.create({ name: 'update', baseDisk: images.disk, workDir: join(dir, 'vm'), configDrive: join(dir, 'configdrive.img') });
    vm = created;
    await created.start();
    await timings.time('first boot', () => created.waitForBoot());
  }, 900_000);

  afterAll(async () => {
    await vm?.stop();
    await etcd?.stop();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
    timings.print('VM update timings');
  });

  const running = (): Vm => {
    if (vm === null) throw new Error('the VM did not start');
    return vm;
  };
  const status = async (): Promise<{ booted: { slot: string; version: string }; health: string; slots: { name: string; version: string | null; successful: boolean }[] }> =>
    JSON.parse((await running().exec('/usr/bin/slipway', ['status', '--json'])).stdout) as never;
  const holders = async (): Promise<string[]> => {
    if (etcd === null) throw new Error('no etcd');
    return (JSON.parse((await runSlipway(['lock', 'status', '--etcd', etcd.url, '--json'])).stdout) as { semaphore: { holders: string[] } }).semaphore.holders;
  };

  it('goes from 1.0.0 to 1.0.1: download, lock, reboot, health gate, mark good, release', async () => {
    const vm = running();
    const update = await timings.time('download and stage 1.0.1', () => vm.exec('/usr/bin/slipway', ['update', '--now', '--json'], 600_000));
    expect(update.code).toBe(0);
    expect(JSON.parse(update.stdout)).toMatchObject({ result: 'staged', version: '1.0.1', slot: 'USR-B' });
    const before = vm.console().length;
    await timings.time('lock and reboot', () => vm.waitForSerial(/reboot: Restarting system/, 300_000, before));
    expect((await holders()).length).toBe(1);
    await timings.time('boot 1.0.1', async () => {
      await vm.waitForSerial(/root=PARTLABEL=USR-B/, 300_000, before);
      await vm.waitForBoot(300_000, before);
    });
    const after = await timings.time('health gate', async () => {
      for (;;) {
        const current = await status();
        if (current.health !== 'pending') return current;
      }
    });
    expect(after).toMatchObject({ booted: { slot: 'USR-B', version: '1.0.1' }, health: 'confirmed' });
    expect(after.slots.map((s) => [s.name, s.version, s.successful])).toEqual([
      ['USR-A', '1.0.0', true],
      ['USR-B', '1.0.1', true],
    ]);
    for (;;) if ((await holders()).length === 0) break;
    expect(await holders()).toEqual([]);
  });
});
