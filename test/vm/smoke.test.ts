// The OS image booted under QEMU (TCG, OVMF, GRUB, systemd): slot A picked by slipway's grub.cfg,
// cloud-config from a config-drive applied by slipway-cloudinit.service against real systemd and
// hostnamed (a user with an SSH key, a file, the hostname, a podman container from an image in the
// OS), `slipway status` in the guest, a read-only root, and /etc changes kept across a reboot.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeConfigDrive, Vm } from '../../qemu/vm.ts';
import { buildLabImages } from '../../qemu/lab-images.ts';
import { Timings } from '../../qemu/timings.ts';
import { VM_TOOLS } from '../builders/vm-images.ts';

const skip = VM_TOOLS;
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@laptop';

const USER_DATA = `#cloud-config
hostname: smoke-1
users:
  - name: ops
    groups: [sudo]
    ssh_authorized_keys:
      - ${KEY}
write_files:
  - path: /etc/smoke/hello.txt
    permissions: "0640"
    content: hello from cloud-config
coreos:
  update:
    reboot_strategy: "off"
  units:
    - name: hello.service
      command: start
      content: |
        [Unit]
        Description=a container from the image shipped in the OS
        [Service]
        ExecStart=/usr/bin/podman run --rm --name hello --network=none --rootfs /usr/share/slipway/hello-rootfs:O /bin/sh -c "trap 'exit 0' TERM; echo hello-from-container; sleep 100000 & wait"
`;

const timings = new Timings();

describe.skipIf(skip !== null)(`${skip ?? ''} the OS image in a VM`, { timeout: 600_000 }, () => {
  let dir: string;
  let vm: Vm | null = null;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-vm-'));
    const built = await buildLabImages(dir, '1.0.0', [], timings, inject('vmRunImages'));
    await makeConfigDrive(join(dir, 'configdrive.img'), USER_DATA);
    const created = await Vm.create({ name: 'smoke', baseDisk: built.disk, workDir: join(dir, 'vm'), configDrive: join(dir, 'configdrive.img') });
    vm = created;
    await created.start();
    await timings.time('first boot to login and guest agent', () => created.waitForBoot());
  }, 900_000);

  afterAll(async () => {
    await vm?.stop();
    await rm(dir, { recursive: true, force: true });
    timings.print('VM smoke timings');
  });

  const running = (): Vm => {
    if (vm === null) throw new Error('the VM did not start');
    return vm;
  };
  const sh = (command: string): ReturnType<Vm['exec']> => running().exec('/bin/sh', ['-c', command]);

  it('boots slot A through GRUB and reports it with slipway status', async () => {
    expect(running().console()).toContain('root=PARTLABEL=USR-A');
    const status = await running().exec('/usr/bin/slipway', ['status', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ booted: { slot: 'USR-A', version: '1.0.0' }, health: 'confirmed', strategy: 'off' });
  });

  it('applied the cloud-config from the config-drive with real systemd and hostnamed', async () => {
    expect((await sh('systemctl is-active slipway-cloudinit.service')).stdout.trim()).toBe('active');
    expect((await sh('hostname')).stdout.trim()).toBe('smoke-1');
    expect((await sh('id -nG ops')).stdout.trim().split(' ')).toContain('sudo');
    expect((await sh('cat /home/ops/.ssh/authorized_keys')).stdout).toBe(`${KEY}\n`);
    expect((await sh('stat -c "%a %U" /home/ops/.ssh/authorized_keys /etc/smoke/hello.txt')).stdout).toBe('600 ops\n640 root\n');
    expect((await sh('cat /etc/smoke/hello.txt')).stdout).toBe('hello from cloud-config');
  });

  it('runs the container workload with podman', async () => {
    const logs = await timings.time('container up', async () => {
      for (;;) {
        const journal = await sh('journalctl -u hello.service --no-pager -o cat');
        if (journal.stdout.includes('hello-from-container')) return journal.stdout;
        if ((await sh('systemctl is-failed hello.service')).stdout.trim() === 'failed') return journal.stdout;
      }
    });
    expect(logs).toContain('hello-from-container');
    expect((await sh('systemctl is-active hello.service')).stdout.trim()).toBe('active');
  });

  it('has a read-only root, and keeps /etc changes across a reboot without re-applying cloud-config', async () => {
    const write = await sh('touch /usr/slipway-smoke');
    expect(write.code).not.toBe(0);
    expect(write.stderr).toContain('Read-only file system');
    expect((await sh('echo kept > /etc/smoke/persist && sync')).code).toBe(0);
    await timings.time('reboot', () => running().reboot());
    expect((await sh('cat /etc/smoke/persist')).stdout).toBe('kept\n');
    expect((await sh('systemctl show -p ConditionResult --value slipway-cloudinit.service')).stdout.trim()).toBe('no');
    expect((await sh('hostname')).stdout.trim()).toBe('smoke-1');
  });
});
