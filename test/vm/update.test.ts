// Scenarios 1, 2 and the pin of the VM suite, on one host whose releases come from a loopback server
// on the host (10.0.2.2 from the guest) under a real etcd lock. First, the OS itself: slot A picked by
// slipway's grub.cfg, cloud-config from a config-drive applied by slipway-cloudinit.service against
// real systemd and hostnamed (a user with an SSH key, a file, the hostname, a podman container from
// an image in the OS), a read-only root, and /etc changes kept across the update's reboot without
// cloud-config applied again. The host's workload is a web server from a signed image in the lab's
// registry, started by a CoreOS-era unit that says `docker run` (podman-docker), trusted through
// slipway.image_trust, and watched by the health gate with a probe on its port; an unsigned image
// from the same registry is refused at pull. Then:
//  1. 1.0.0 -> 1.0.1: download into the other slot, lock, reboot, GRUB's try, health gate (which waits
//     for the workload to serve), mark good, release; it serves again;
//  - `slipway pin 1.0.1` holds the host when 1.0.2 appears;
//  2. 1.0.2 boots but its podman is unusable (its containers.conf names a runtime that does not
//     exist): the workload crash-loops, the gate fails, the host goes back to 1.0.1 by itself, serving
//     again, releases the lock and never installs 1.0.2 again; 1.0.3 then installs normally; 1.0.4's
//     initramfs is broken, its kernel panics before user space, and GRUB's tries alone undo it;
//  3. every slot is mounted through dm-verity with the root hash the agent recorded: 1.0.5 staged,
//     then one byte of its slot changed on disk before the reboot, cannot mount its root on any of
//     its tries, and the host is back on 1.0.3 by itself.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEtcdLockBackend } from '../../agent/lock/etcd-lock-backend.ts';
import { FleetLab } from '../../qemu/fleet-lab.ts';
import { REGISTRY } from '../../qemu/lab-registry.ts';
import { Timings } from '../../qemu/timings.ts';
import { BOOT_MS, lockFree, mark, mostHoldersEver, rebootInto, settled, slipwayIn } from '../builders/vm-steps.ts';
import { VM_TOOLS } from '../builders/vm-images.ts';
import type { GuestRun } from '../../qemu/guest-agent.ts';
import type { StatusReport } from '../../agent/daemon/agent-status.ts';

const HOST = 'host-1';
const timings = new Timings();

// The host's workload, as a 2014 cloud-config would start it: `docker run` of an image from a registry.
const WEB_UNIT = `[Unit]
Description=the host workload: a web server from a signed image
After=network-online.target
Wants=network-online.target
[Service]
ExecStartPre=-/usr/bin/docker rm -f web
ExecStart=/usr/bin/docker run --rm --name web --network host ${REGISTRY}/web:1
ExecStop=/usr/bin/docker stop web
Restart=always
RestartSec=2
[Install]
WantedBy=multi-user.target
`;
const WEB_IMAGE = { name: 'web:1', cmd: ['/bin/httpd', '-f', '-p', '8080', '-h', '/www'], files: { '/www/index.html': 'served by web:1\n' }, signed: true };
const UNSIGNED_IMAGE = { name: 'web:unsigned', cmd: ['/bin/httpd', '-f', '-p', '8080', '-h', '/www'], files: { '/www/index.html': 'unsigned\n' }, signed: false };
// Reboot hooks that record their runs, with the version running then, in /var (kept across slots).
// ($$ is systemd's escape for the shell's $.)
const hook = (name: string): string => `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'mkdir -p /var/lib/slipway-test && . /etc/os-release && echo "${name} $$VERSION_ID" >> /var/lib/slipway-test/hooks.log'\n`;
// 1.0.2 ships a podman whose runtime does not exist: every container start fails, as a bad release's would.
const BROKEN_PODMAN = { '/usr/share/containers/containers.conf': '[engine]\nruntime = "no-such-runtime"\n' };
// Not an initramfs: the kernel cannot mount the root (squashfs and virtio are modules) and panics.
const BROKEN_INITRD = { '/boot/initrd.img': 'not an initramfs\n' };
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@laptop';
// Started once, at first boot, by cloud-config: not enabled, so the later boots stay short.
const HELLO_UNIT = `[Unit]
Description=a container from the image shipped in the OS
[Service]
ExecStart=/usr/bin/podman run --rm --name hello --network=none --rootfs /usr/share/slipway/hello-rootfs:O /bin/sh -c "trap 'exit 0' TERM; echo hello-from-container; sleep 100000 & wait"
`;

describe.skipIf(VM_TOOLS !== null)(`${VM_TOOLS ?? ''} updates, a bad release and a kernel that never reaches user space, in a VM`, { timeout: 1_800_000 }, () => {
  let dir: string;
  let lab: FleetLab | null = null;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-vm-update-'));
    lab = await FleetLab.open({
      dir,
      sharedImages: inject('vmRunImages'),
      hosts: [HOST],
      first: '1.0.0',
      releases: [{ version: '1.0.1' }, { version: '1.0.2', extraFiles: BROKEN_PODMAN }, { version: '1.0.3' }, { version: '1.0.4', extraFiles: BROKEN_INITRD }, { version: '1.0.5' }],
      // web.service is a workload (cloud-config enables and starts it), so the gate watches it unasked.
      agentSettings: {
        update: { checks: false },
        reboot: { before: ['drain.service'], after_healthy: ['undrain.service'] },
        health: { timeout: '2m', settle: '10s', probes: [{ name: 'web', http: { url: 'http://127.0.0.1:8080/', status: '200' } }] },
      },
      workloadImages: [WEB_IMAGE, UNSIGNED_IMAGE],
      units: [
        { name: 'web.service', command: 'start', enable: true, content: WEB_UNIT },
        { name: 'drain.service', content: hook('drain') },
        { name: 'undrain.service', content: hook('undrain') },
        { name: 'hello.service', command: 'start', content: HELLO_UNIT },
      ],
      users: [{ name: 'ops', groups: ['sudo'], ssh_authorized_keys: [KEY] }],
      files: [{ path: '/etc/smoke/hello.txt', permissions: '0640', content: 'hello from cloud-config' }],
      timings,
    });
    const opened = lab;
    // The running release is on the channel too, as in a fleet: its chunk index tells the agent where its chunks are.
    await opened.publish('1.0.0');
    await opened.publish('1.0.1');
    await timings.time('first boot', () => opened.boot());
  }, BOOT_MS * 2);

  afterAll(async () => {
    await lab?.close();
    await rm(dir, { recursive: true, force: true });
    timings.print('VM update timings');
  });

  const the = (): FleetLab => {
    if (lab === null) throw new Error('the lab did not start');
    return lab;
  };
  const slotsOf = (status: { slots: readonly { name: string; version: string | null; successful: boolean }[] }): [string, string | null, boolean][] =>
    status.slots.map((s) => [s.name, s.version, s.successful]);

  const sh = (command: string): Promise<GuestRun> => the().vm(HOST).exec('/bin/sh', ['-c', command]);
  /**
   * What the workload serves on its port now, '' when nothing answers: one GET through bash's /dev/tcp
   * (the guest's busybox wget segfaults under TCG), the body after the headers.
   */
  const served = async (): Promise<string> => {
    const run = await sh(`timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 && printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3 && cat <&3' 2>/dev/null`);
    const split = run.stdout.indexOf('\r\n\r\n');
    return split === -1 ? '' : run.stdout.slice(split + 4);
  };

  /** `slipway update --now`: staged into `slot`, then the reboot into it; returns the console offset before. */
  const updateNow = async (version: string, slot: 'USR-A' | 'USR-B'): Promise<number> => {
    const lab = the();
    const before = mark(lab, HOST);
    const staged = await timings.time(`download and stage ${version}`, () => slipwayIn(lab, HOST, ['update', '--now']));
    expect(staged).toMatchObject({ result: 'staged', version, slot });
    return before;
  };

  it('boots slot A through GRUB and reports it with slipway status', async () => {
    const lab = the();
    expect(lab.vm(HOST).console()).toContain('root=PARTLABEL=USR-A');
    const status = await lab.vm(HOST).exec('/usr/bin/slipway', ['status', '--json']);
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout) as StatusReport;
    expect(report).toMatchObject({ booted: { slot: 'USR-A', version: '1.0.0' }, health: 'confirmed', strategy: 'etcd-lock' });
    // The image builder recorded A's root hash on the ESP; GRUB passed it, and the initramfs mounted the slot through dm-verity.
    expect(report.verity, report.verity?.detail).toMatchObject({ slot: 'USR-A', verified: true, dmName: 'slipway-root' });
    expect(lab.vm(HOST).console()).toContain(`slipway.verity=${report.verity?.rootHash ?? 'none'}`);
    // Nothing the OS starts by itself failed, and what Debian enables without a job here stays off.
    expect((await sh('systemctl list-units --failed --plain --no-legend')).stdout.trim()).toBe('');
    expect((await sh('systemctl is-enabled podman-restart.service podman-auto-update.timer apt-daily.timer')).stdout.split('\n').filter(Boolean)).toEqual(['disabled', 'disabled', 'disabled']);
  });

  it('applied the cloud-config from the config-drive with real systemd and hostnamed', async () => {
    expect((await sh('systemctl is-active slipway-cloudinit.service')).stdout.trim()).toBe('active');
    expect((await sh('hostname')).stdout.trim()).toBe(HOST);
    expect((await sh('id -nG ops')).stdout.trim().split(' ')).toContain('sudo');
    expect((await sh('cat /home/ops/.ssh/authorized_keys')).stdout).toBe(`${KEY}\n`);
    expect((await sh('stat -c "%a %U" /home/ops/.ssh/authorized_keys /etc/smoke/hello.txt')).stdout).toBe('600 ops\n640 root\n');
    expect((await sh('cat /etc/smoke/hello.txt')).stdout).toBe('hello from cloud-config');
  });

  it('serves the workload from the signed image, started by a unit that says `docker run`', async () => {
    const page = await timings.time('workload serving', async () => {
      // Waits on what the guest reports (served, or the unit failed), bounded so a workload that never
      // serves fails here with its journal.
      const until = Date.now() + BOOT_MS;
      for (;;) {
        const text = await served();
        if (text !== '' || Date.now() > until || (await sh('systemctl is-failed web.service')).stdout.trim() === 'failed') return text;
      }
    });
    expect(page, (await sh('journalctl -u web.service --no-pager -o cat | tail -30')).stdout).toBe('served by web:1\n');
    expect((await sh('test -x /usr/bin/docker')).code).toBe(0);
    // The trust cloud-config wrote: anything not from the lab registry is rejected.
    expect(JSON.parse((await sh('cat /etc/containers/policy.json')).stdout)).toMatchObject({ default: [{ type: 'reject' }] });
  });

  it('refuses an unsigned image at pull', async () => {
    const registry = the().registry?.guestHost ?? '';
    const pull = await sh(`podman pull ${registry}/web:unsigned`);
    expect(pull.code).not.toBe(0);
    expect(pull.stderr).toMatch(/A signature was required, but no signature exists/);
    expect((await sh(`podman image exists ${registry}/web:unsigned`)).code).not.toBe(0);
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

  it('has a read-only root; a change to /etc is written before the update (checked after its reboot)', async () => {
    const write = await sh('touch /usr/slipway-smoke');
    expect(write.code).not.toBe(0);
    expect(write.stderr).toContain('Read-only file system');
    expect((await sh('echo kept > /etc/smoke/persist && sync')).code).toBe(0);
  });

  it('scenario 1: goes from 1.0.0 to 1.0.1 under the lock, and releases it only after the health gate', async () => {
    const lab = the();
    expect(await lab.status(HOST)).toMatchObject({ booted: { slot: 'USR-A', version: '1.0.0' }, health: 'confirmed' });
    const plan = (await slipwayIn(lab, HOST, ['plan', '--json'])) as { plan?: { fetch?: { path: string; bytes: number; requests: number } } };
    expect(plan.plan?.fetch, JSON.stringify(plan)).toMatchObject({ path: 'delta' });
    const planned = plan.plan?.fetch?.bytes ?? NaN;
    const before = await updateNow('1.0.1', 'USR-B');
    await timings.time('lock, reboot and boot 1.0.1', () => rebootInto(lab, HOST, 'USR-B', before));
    const after = await timings.time('health gate 1.0.1', () => settled(lab, HOST));
    expect(after).toMatchObject({ booted: { slot: 'USR-B', version: '1.0.1' }, health: 'confirmed' });
    expect(slotsOf(after)).toEqual([
      ['USR-A', '1.0.0', true],
      ['USR-B', '1.0.1', true],
    ]);
    await lockFree(lab);
    // etcd's history of the key: held by this host (alone) across the reboot, free at the end.
    const machineId = (await lab.vm(HOST).exec('/bin/cat', ['/etc/machine-id'])).stdout.trim();
    const history = (await lab.lockHistory()).map((r) => r.semaphore.holders);
    expect(history).toContainEqual([machineId]);
    expect(history.every((holders) => holders.length <= 1)).toBe(true);
    expect(history.at(-1)).toEqual([]);
    // The gate waited for the workload: its unit settled and its probe answered before the slot was marked good.
    expect(after.lastGate).toMatchObject({ kind: 'gate', version: '1.0.1', healthy: true });
    expect(after.lastGate?.units).toContainEqual(expect.objectContaining({ name: 'web.service', verdict: 'ok' }));
    expect(after.lastGate?.probes).toContainEqual(expect.objectContaining({ name: 'web', verdict: 'ok' }));
    // A delta: only the chunks 1.0.0's slot lacks were fetched, in a few merged Range requests (planned so before).
    const payloadRequests = lab.server.requests.filter((r) => /\/releases\/1\.0\.1\/payload\.img\.zst$/.test(r.path));
    const payloadBytes = (await stat(join(dir, 'www', payloadRequests[0]?.path ?? '/none'))).size;
    const ranges = payloadRequests.map((r) => r.range ?? 'the whole file');
    const fetched = ranges.reduce((sum, range) => {
      const [, from = '0', to = '-1'] = /^bytes=(\d+)-(\d+)$/.exec(range) ?? [];
      return sum + Number(to) - Number(from) + 1;
    }, 0);
    expect(ranges.every((r) => /^bytes=\d+-\d+$/.test(r)), ranges.join(', ')).toBe(true);
    expect(ranges.length).toBeLessThanOrEqual(64);
    expect(fetched).toBeLessThan(payloadBytes / 10);
    timings.note(`1.0.0 -> 1.0.1 as a delta: ${fetched} of the payload's ${payloadBytes} bytes in ${ranges.length} requests (planned ${planned})`);
    // 1.0.1 runs on a root verified by the hash its signed manifest carried, recorded by the agent, checked by the gate.
    expect(after.verity, after.verity?.detail).toMatchObject({ slot: 'USR-B', verified: true, rootHash: after.verity?.recorded });
    expect(lab.vm(HOST).console().slice(before)).toMatch(new RegExp(`root=PARTLABEL=USR-B [^\\n]*slipway\\.verity=${after.verity?.recorded ?? 'none'} `));
    expect(after.lastGate?.probes).toContainEqual(expect.objectContaining({ name: 'verified-root', kind: 'verity', verdict: 'ok' }));
    expect(await served()).toBe('served by web:1\n');
    // The drain ran on 1.0.0 before the reboot, the undrain on 1.0.1 once its gate had passed.
    expect((await sh('cat /var/lib/slipway-test/hooks.log')).stdout).toBe('drain 1.0.0\nundrain 1.0.1\n');
    // Another slot, the same /etc: the operator's change is kept, and cloud-config is not applied again.
    expect((await sh('cat /etc/smoke/persist')).stdout).toBe('kept\n');
    expect((await sh('systemctl show -p ConditionResult --value slipway-cloudinit.service')).stdout.trim()).toBe('no');
    expect((await sh('hostname')).stdout.trim()).toBe(HOST);
  });

  it('scenario 4: `slipway pin 1.0.1` holds the host when 1.0.2 appears; unpin lets it go on', async () => {
    const lab = the();
    expect(await slipwayIn(lab, HOST, ['pin', '1.0.1'])).toMatchObject({ pinned: '1.0.1' });
    await lab.publish('1.0.2');
    expect(await slipwayIn(lab, HOST, ['check'])).toMatchObject({ result: 'up-to-date', reason: 'pinned to 1.0.1' });
    expect(await slipwayIn(lab, HOST, ['unpin'])).toMatchObject({ pinned: null });
  });

  it('scenario 2: 1.0.2 fails its health gate, the host rolls back to 1.0.1 by itself, releases the lock and skips 1.0.2', async () => {
    const lab = the();
    const before = await updateNow('1.0.2', 'USR-A');
    const vm = lab.vm(HOST);
    await timings.time('lock, reboot, 1.0.2 fails its gate, reboot back to 1.0.1', async () => {
      const restart = await vm.waitForSerial(/reboot: Restarting system/, BOOT_MS, before);
      const rebooted = before + (restart.index ?? 0) + restart[0].length;
      const kernel = await vm.waitForSerial(/root=PARTLABEL=USR-A/, BOOT_MS, rebooted);
      // The gate fails on web.service, and the agent reboots into USR-B still holding the lock.
      await rebootInto(lab, HOST, 'USR-B', rebooted + (kernel.index ?? 0));
    });
    const back = await settled(lab, HOST);
    expect(back).toMatchObject({ booted: { slot: 'USR-B', version: '1.0.1' }, health: 'confirmed', state: 'idle' });
    // A failed health gate is the release's own fault: charged once, and skipped at once.
    expect(back.skipped).toEqual([{ version: '1.0.2', reason: expect.stringMatching(/^failed its health gate: web\.service /) as string, failures: 1 }]);
    // Back on 1.0.1, the workload serves again.
    expect(await served()).toBe('served by web:1\n');
    expect(back.slots.find((s) => s.name === 'USR-A')).toMatchObject({ successful: false, priority: 0 });
    await lockFree(lab);
    // Never again: the channel still offers 1.0.2.
    expect(await slipwayIn(lab, HOST, ['check'])).toMatchObject({ result: 'up-to-date', reason: expect.stringMatching(/^skipping 1\.0\.2: failed its health gate: web\.service /) as string });
  });

  it('scenario 2: then 1.0.3 installs normally', async () => {
    const lab = the();
    await lab.publish('1.0.3');
    const before = await updateNow('1.0.3', 'USR-A');
    await timings.time('lock, reboot and boot 1.0.3', () => rebootInto(lab, HOST, 'USR-A', before));
    const after = await timings.time('health gate 1.0.3', () => settled(lab, HOST));
    expect(after).toMatchObject({ booted: { slot: 'USR-A', version: '1.0.3' } });
    expect(slotsOf(after)).toEqual([
      ['USR-A', '1.0.3', true],
      ['USR-B', '1.0.1', true],
    ]);
    await lockFree(lab);
  });

  it('scenario 2: 1.0.4 panics before user space; GRUB spends its tries and boots 1.0.3, which skips 1.0.4 and releases the lock', async () => {
    const lab = the();
    await lab.publish('1.0.4');
    const before = await updateNow('1.0.4', 'USR-B');
    const vm = lab.vm(HOST);
    await timings.time('three panicking boots of 1.0.4, then 1.0.3', async () => {
      let from = before;
      for (let tries = 0; tries < 3; tries++) {
        const panic = await vm.waitForSerial(/Kernel panic - not syncing/, BOOT_MS, from);
        from += (panic.index ?? 0) + panic[0].length;
      }
      await vm.waitForSerial(/root=PARTLABEL=USR-A/, BOOT_MS, from);
      await vm.waitForBoot(BOOT_MS, from);
    });
    const back = await settled(lab, HOST);
    expect(back).toMatchObject({ booted: { slot: 'USR-A', version: '1.0.3' }, state: 'idle' });
    expect(back.skipped).toContainEqual({ version: '1.0.4', reason: 'did not boot: its boot tries were used up', failures: 1 });
    expect(back.slots.find((s) => s.name === 'USR-B')).toMatchObject({ successful: false, priority: 0 });
    const since = vm.console().slice(before);
    // The serial console under TCG drops a character now and then ("roo=PARTLABEL"): either mark of slot B counts.
    const tried = since.match(/Kernel command line:[^\n]*(?:root=PARTLABEL=USR-B|\(hd0,gpt4\))/g) ?? [];
    // The console's boot lines since the update, kept in the message: CI deletes the VM's files afterwards.
    const bootLines = since.split('\n').filter((line) => /Booting|Kernel command line|Kernel panic|Rebooting|reboot:|error:|BdsDxe/.test(line));
    expect(tried, `USR-B kernel starts since the update; console:\n${bootLines.join('\n')}`).toHaveLength(3);
    await lockFree(lab);
    expect(await mostHoldersEver(lab)).toBe(1);
  });

  it('dm-verity: a byte flipped in the staged slot after staging fails its trial boots at the root mount; the host goes back to 1.0.3 and skips 1.0.5', async () => {
    const lab = the();
    const vm = lab.vm(HOST);
    // An operator holds the only place: staged, the agent waits, and the harness changes the slot then.
    const operator = await openEtcdLockBackend({ connection: lab.etcd.connection(), group: '', holdTtlSeconds: 3_600, callTimeoutMs: 10_000, now: () => Date.now() });
    try {
      expect((await operator.acquire({ id: 'operator', host: 'ops', since: new Date().toISOString(), targetVersion: 'maintenance' })).kind).toBe('acquired');
      await lab.publish('1.0.5');
      const before = await updateNow('1.0.5', 'USR-B');
      await lab.waitForStatus(HOST, (s) => s.state === 'updated-need-reboot' && s.activity === 'waiting-to-reboot', BOOT_MS);
      // The first byte after the filesystem's end (bytes_used), padding no reader interprets, in the
      // same 4 KiB block as the id table index the kernel reads at mount: harmless without dm-verity.
      const slot = '/dev/disk/by-partlabel/USR-B';
      const [used = 0, ids = 0] = (await sh(`od -An -tu8 -j40 -N16 ${slot}`)).stdout.trim().split(/\s+/).map(Number);
      expect(used % 4096, 'the filesystem ends inside a block').not.toBe(0);
      expect(Math.floor(ids / 4096), 'the id table index is in the last block').toBe(Math.floor(used / 4096));
      expect((await sh(`printf '\\001' | dd of=${slot} bs=1 seek=${used} conv=notrunc,fsync status=none && od -An -tu1 -j${used} -N1 ${slot}`)).stdout.trim()).toBe('1');
      expect(await operator.release('operator')).toBe('released');
      // Waited on through the agent, not the console (the serial line drops a character now and then).
      await timings.time('trial boots of 1.0.5 that cannot mount their root, then 1.0.3', async () => {
        await vm.waitForSerial(/Failed to mount \/dev\/mapper\/slipway-root/, BOOT_MS, before);
        await lab.waitForStatus(HOST, (s) => s.booted.slot === 'USR-A' && s.health === 'confirmed' && s.skipped.some((k) => k.version === '1.0.5'), BOOT_MS * 2);
      });
      const since = vm.console().slice(before);
      expect(since).toMatch(/device-mapper: verity: [^\n]*data block \d+ is corrupted/);
      const back = await settled(lab, HOST);
      expect(back).toMatchObject({ booted: { slot: 'USR-A', version: '1.0.3' }, state: 'idle' });
      expect(back.verity).toMatchObject({ slot: 'USR-A', verified: true });
      expect(back.skipped).toContainEqual({ version: '1.0.5', reason: 'did not boot: its boot tries were used up', failures: 1 });
      expect(back.slots.find((s) => s.name === 'USR-B')).toMatchObject({ successful: false, priority: 0 });
      await lockFree(lab);
    } finally {
      operator.close();
    }
  });
});
