// Scenario 3 of the VM suite: QEMU is killed (SIGKILL: the guest's unflushed writes are lost) while
// the payload is downloading, while frames are being written at full speed, after the release was
// staged while the host waited for the reboot lock, after the slot was armed with the lock held
// (logind delaying the reboot), during the new slot's health gate, and in the middle of a GRUB
// environment write (the torn block such a cut leaves, written in place). Each time the host boots a
// good slot, and afterwards finishes the update by itself under the lock, which it keeps through
// the cuts and gives back after the gate. Every stall holds until the test lets it go: nothing here
// depends on how fast the machine is.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEtcdLockBackend } from '../../agent/lock/etcd-lock-backend.ts';
import { FleetLab } from '../../qemu/fleet-lab.ts';
import { Timings } from '../../qemu/timings.ts';
import { BOOT_MS, lockFree, settled } from '../builders/vm-steps.ts';
import { VM_TOOLS } from '../builders/vm-images.ts';
import type { StatusReport } from '../../agent/daemon/agent-status.ts';
import { cliUnitStates } from '../builders/cli-unit-states.ts';
import { unitStatesContract } from '../health/unit-states-contract.ts';
import type { EtcdLockBackend } from '../../agent/lock/etcd-lock-backend.ts';
import type { Vm } from '../../qemu/vm.ts';

const HOST = 'host-1';
const PAYLOAD = /\/releases\/1\.0\.1\/payload\.img\.zst$/;
const MIB = 1024 * 1024;
/** While it exists, multi-user.target waits (so the health gate does), on every boot. */
const GATE_HOLD = '/var/lib/slipway-test/hold-gate';
const timings = new Timings();
const run = promisify(execFile);

describe.skipIf(VM_TOOLS !== null)(`${VM_TOOLS ?? ''} power cuts during an update, in a VM`, { timeout: 1_800_000 }, () => {
  let dir: string;
  let lab: FleetLab | null = null;
  // An operator's hold on the only place in the lock, from the first cut to the last: the staged
  // release must wait for it, and the finished download cannot race ahead into a reboot.
  let operator: EtcdLockBackend | null = null;
  /** Where every payload request stops until the test moves it: 40 MiB, then 8 MiB short of the end, then nowhere. */
  let stallAt: number | null = 40 * MIB;
  let machineId = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-vm-power-'));
    lab = await FleetLab.open({
      dir,
      sharedImages: inject('vmRunImages'),
      hosts: [HOST],
      first: '1.0.0',
      releases: [{ version: '1.0.1' }],
      // The agent checks by itself soon after each boot: nobody asks it to finish the update. Three
      // tries: a cut during a trial boot's gate costs one.
      agentSettings: { update: { first_check: '10s', interval: '15s', tries: 3 }, health: { timeout: '30m' } },
      // Its cloud-config comes from `cloud-config-url=` (an OEM disk's grub.cfg), and the metadata
      // service is not ready for the host's first three requests.
      cloudConfigUrl: { failFirst: 3 },
      // The cuts are of the full download (the server holds the payload at 40 MiB): releases without a
      // chunk index. A delta's kill and resume is test/update/delta-update.test.ts's.
      maxFormat: 3,
      files: [{ path: '/etc/systemd/logind.conf.d/50-slipway-test.conf', permissions: '0644', content: '[Login]\nInhibitDelayMaxSec=30min\n' }],
      units: [
        {
          name: 'hold-gate.service',
          enable: true,
          content: `[Unit]\nDescription=Holds multi-user.target while ${GATE_HOLD} exists\n[Service]\nType=oneshot\nRemainAfterExit=yes\nTimeoutStartSec=infinity\nExecStart=/bin/sh -c 'while [ -e ${GATE_HOLD} ]; do sleep 1; done'\n[Install]\nWantedBy=multi-user.target\n`,
        },
      ],
      timings,
    });
    const opened = lab;
    await opened.publish('1.0.0');
    // Payload requests, resumed ones too, stop at stallAt until the test moves it.
    opened.server.handle((request, _response, serve) => {
      if (stallAt !== null && PAYLOAD.test(new URL(request.url ?? '/', 'http://x').pathname)) return serve({ stallAt });
      return serve();
    });
    operator = await openEtcdLockBackend({ connection: opened.etcd.connection(), group: '', holdTtlSeconds: 3_600, callTimeoutMs: 10_000, now: () => Date.now() });
    expect((await operator.acquire({ id: 'operator', host: 'ops', since: new Date().toISOString(), targetVersion: 'maintenance' })).kind).toBe('acquired');
    // Published before the host is up: its first check, soon after the boot, finds it.
    await opened.publish('1.0.1');
    await timings.time('first boot', () => opened.boot());
    machineId = (await opened.vm(HOST).exec('/bin/cat', ['/etc/machine-id'])).stdout.trim();
  }, BOOT_MS * 2);

  afterAll(async () => {
    operator?.close();
    await lab?.close();
    await rm(dir, { recursive: true, force: true });
    timings.print('VM power cut timings');
  });

  const the = (): FleetLab => {
    if (lab === null) throw new Error('the lab did not start');
    return lab;
  };

  /**
   * Kills QEMU, powers the VM on again, and checks that it came back on its good slot, confirmed and
   * settled in `activity`: idle, or waiting for the lock with an update staged before the cut.
   */
  const cutAndBoot = async (what: string, activity: 'idle' | 'waiting-to-reboot' = 'idle', beforeBoot: () => void = () => undefined): Promise<StatusReport> => {
    const lab = the();
    const vm = lab.vm(HOST);
    await vm.powerCut();
    beforeBoot();
    await vm.start();
    await timings.time(`boot after the cut ${what}`, () => vm.waitForBoot(BOOT_MS));
    expect(vm.console()).toMatch(/Kernel command line:[^\n]*root=PARTLABEL=USR-A/);
    const status = activity === 'idle' ? await settled(lab, HOST) : await lab.waitForStatus(HOST, (s) => s.health === 'confirmed' && s.activity === activity, BOOT_MS);
    expect(status).toMatchObject({ booted: { slot: 'USR-A', version: '1.0.0' }, health: 'confirmed' });
    expect(status.slots.find((s) => s.name === 'USR-A')).toMatchObject({ next: true, successful: true });
    return status;
  };

  const progress = (status: StatusReport | null): number => status?.progress?.chunksDone ?? 0;

  it('first boot: cloud-config-url answered 503 three times, retried, and the host ended up configured', async () => {
    const lab = the();
    const vm = lab.vm(HOST);
    expect(vm.console()).toMatch(/Kernel command line:[^\n]*cloud-config-url=http:\/\/10\.0\.2\.2:\d+\/user-data\/host-1 /);
    expect(lab.userData?.answers(HOST)).toEqual([503, 503, 503, 200]);
    const journal = await vm.exec('/bin/sh', ['-c', 'journalctl -b -u slipway-cloudinit.service --no-pager -o cat']);
    expect(journal.stdout.match(/fetching cloud-config failed; retrying/g)?.length).toBeGreaterThanOrEqual(3);
    // What the cloud-config declared is there: its file, its unit, the agent pointed at the lab.
    expect((await vm.exec('/bin/cat', ['/etc/systemd/logind.conf.d/50-slipway-test.conf'])).stdout).toContain('InhibitDelayMaxSec=30min');
    expect((await vm.exec('/bin/systemctl', ['is-enabled', 'hold-gate.service'])).stdout.trim()).toBe('enabled');
    const status = await lab.waitForStatus(HOST, (s) => s.health === 'confirmed', BOOT_MS);
    expect(status.firstBoot).toBeNull();
    expect((await vm.exec('/bin/hostname', [])).stdout.trim()).toBe(HOST);
  });

  it('cut mid-download (the server stalled mid-payload): boots 1.0.0, then resumes with a Range request', async () => {
    const lab = the();
    const downloading = await timings.time('first check finds 1.0.1, 40 MiB arrive', () =>
      lab.waitForStatus(HOST, (s) => s.state === 'downloading' && progress(s) >= 1, BOOT_MS),
    );
    expect(downloading.target).toEqual({ version: '1.0.1', slot: 'USR-B' });
    // Cut while the server holds the payload at 40 MiB; after the cut it serves up to 8 MiB short of the end.
    const after = await cutAndBoot('mid-download', 'idle', () => (stallAt = -8 * MIB));
    expect(after.state).toBe('downloading');
    expect(after.progress?.chunksDone).toBeGreaterThanOrEqual(1);
    const resumed = await timings.time('resume with Range', () =>
      lab.waitForStatus(HOST, (s) => progress(s) > progress(after), BOOT_MS),
    );
    expect(resumed.target).toEqual({ version: '1.0.1', slot: 'USR-B' });
    const ranges = lab.server.requests.filter((r) => PAYLOAD.test(r.path)).map((r) => r.range);
    expect(ranges.at(-1)).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it('cut while frames are written at full speed: boots 1.0.0, re-hashes the recorded frames and goes on', async () => {
    const lab = the();
    const before = progress(await lab.status(HOST));
    await lab.waitForStatus(HOST, (s) => progress(s) >= before + 1, BOOT_MS);
    // However slow the machine, the download cannot finish before the cut: the end is held back.
    const after = await cutAndBoot('mid-write', 'idle', () => (stallAt = null));
    expect(after.state).toBe('downloading');
    const staged = await timings.time('finish the download after the cut', () =>
      lab.waitForStatus(HOST, (s) => s.state === 'updated-need-reboot' && s.activity === 'waiting-to-reboot', BOOT_MS),
    );
    expect(staged).toMatchObject({ target: { version: '1.0.1', slot: 'USR-B' }, lastError: null });
    // Staged but not armed: the next boot is still the good slot until the lock is held.
    expect(staged.slots.find((s) => s.next)?.name).toBe('USR-A');
    expect(staged.slots.find((s) => s.name === 'USR-B')).toMatchObject({ version: '1.0.1', priority: 0 });
  });

  it('cut after staging while waiting for the lock: boots 1.0.0, still staged and waiting in line', async () => {
    const lab = the();
    // Waiting in line for the place the operator holds: the agent says so, and checks do not hide it.
    const after = await cutAndBoot('between staging and reboot', 'waiting-to-reboot');
    expect(after).toMatchObject({ state: 'updated-need-reboot', target: { version: '1.0.1', slot: 'USR-B' } });
    expect((await lab.semaphore()).holders).toEqual(['operator']);
  });

  it('cut after the slot was armed with the lock held (logind delaying the reboot): boots 1.0.1 on trial, keeping its place', async () => {
    const lab = the();
    const vm = lab.vm(HOST);
    // The next boots stop short of multi-user.target until the test says, and a delay inhibitor holds
    // logind's reboot (the agent waits only for block inhibitors) so the cut lands after arming.
    expect((await vm.exec('/bin/sh', ['-c', `mkdir -p ${GATE_HOLD.slice(0, GATE_HOLD.lastIndexOf('/'))} && touch ${GATE_HOLD} && sync`])).code).toBe(0);
    expect((await vm.exec('/usr/bin/systemd-run', ['--unit=test-delay', '/usr/bin/systemd-inhibit', '--what=shutdown', '--mode=delay', '--who=test', '--why=holding the reboot', '/bin/sleep', 'infinity'])).code).toBe(0);
    // The operator gives the place back; the agent, waiting in line, takes it, arms USR-B and asks logind to reboot.
    expect(await operator?.release('operator')).toBe('released');
    const armed = await timings.time('take the lock and arm USR-B', () =>
      lab.waitForStatus(HOST, (s) => s.activity === 'rebooting' && s.slots.find((slot) => slot.next)?.name === 'USR-B', BOOT_MS),
    );
    expect(armed.slots.find((s) => s.name === 'USR-B')).toMatchObject({ version: '1.0.1', successful: false });
    expect((await lab.semaphore()).holders).toEqual([machineId]);
    await vm.powerCut();
    await vm.start();
    await timings.time('boot 1.0.1 after the cut after arming', () => vm.waitForBoot(BOOT_MS));
    expect(vm.console()).toMatch(/Kernel command line:[^\n]*root=PARTLABEL=USR-B/);
    const trial = await lab.waitForStatus(HOST, (s) => s.booted.slot === 'USR-B' && s.health === 'pending', BOOT_MS);
    expect(trial.booted).toEqual({ slot: 'USR-B', version: '1.0.1' });
    expect((await lab.semaphore()).holders).toEqual([machineId]);
  });

  it("cut during the trial boot's health gate: boots 1.0.1 again on its next try, passes the gate once it opens, gives the place back", async () => {
    const lab = the();
    const vm = lab.vm(HOST);
    await vm.powerCut();
    await vm.start();
    await timings.time('boot 1.0.1 again after the cut in the gate', () => vm.waitForBoot(BOOT_MS));
    expect(vm.console()).toMatch(/Kernel command line:[^\n]*root=PARTLABEL=USR-B/);
    await lab.waitForStatus(HOST, (s) => s.booted.slot === 'USR-B' && s.health === 'pending', BOOT_MS);
    // Through both cuts the place stayed this host's: kept alive, never taken over or given away.
    expect((await lab.semaphore()).holders).toEqual([machineId]);
    expect((await vm.exec('/bin/rm', ['-f', GATE_HOLD])).code).toBe(0);
    const done = await timings.time('the gate opens: mark good, release', () => settled(lab, HOST));
    expect(done).toMatchObject({ booted: { slot: 'USR-B', version: '1.0.1' }, state: 'idle', lastError: null });
    expect(done.slots.map((s) => [s.name, s.version, s.successful])).toEqual([
      ['USR-A', '1.0.0', true],
      ['USR-B', '1.0.1', true],
    ]);
    await lockFree(lab);
  });

  it('cut in the middle of a GRUB environment write (ORDER half rewritten): GRUB reads the torn order and boots a good slot', async () => {
    const lab = the();
    const vm = lab.vm(HOST);
    // No checks after the cut: the host is to stay on whatever good slot GRUB chose.
    expect((await vm.exec('/bin/sh', ['-c', `printf 'update:\\n  checks: false\\n' > /etc/slipway/config.d/70-test-no-checks.yaml && sync`])).code).toBe(0);
    // An operator's rollback rewrites ORDER "B A" to "A B" in place; cut after its first byte reached
    // the disk and before its last did, the block reads "A A". Written as such a cut leaves it: in place, synced.
    const env = '/boot/efi/EFI/slipway/grubenv';
    const torn = `offset=$(grep -abo 'ORDER=B A' ${env} | cut -d: -f1) && [ -n "$offset" ] && printf 'A' | dd of=${env} bs=1 seek=$((offset + 6)) conv=notrunc status=none && sync && grep -c 'ORDER=A A' ${env}`;
    expect(await vm.exec('/bin/sh', ['-c', torn])).toMatchObject({ code: 0, stdout: '1\n' });
    await vm.powerCut();
    await vm.start();
    await timings.time('boot after the cut mid grubenv write', () => vm.waitForBoot(BOOT_MS));
    expect(vm.console()).toMatch(/Kernel command line:[^\n]*root=PARTLABEL=USR-A/);
    const after = await settled(lab, HOST);
    expect(after).toMatchObject({ booted: { slot: 'USR-A', version: '1.0.0' }, health: 'confirmed', state: 'idle' });
    expect(after.slots.map((s) => [s.name, s.version, s.successful])).toEqual([
      ['USR-A', '1.0.0', true],
      ['USR-B', '1.0.1', true],
    ]);
    await lockFree(lab);
  });
  it('dm-verity: a byte flipped on disk in a file of the booted slot is an I/O error when the file is read, and slipway verify names the slot', async () => {
    const vm = the().vm(HOST);
    const sh = (command: string) => vm.exec('/bin/sh', ['-c', command], BOOT_MS);
    const slot = '/dev/disk/by-partlabel/USR-A';
    // The initramfs is read by GRUB at boot, never through the root afterwards. Its gzip data is mostly
    // stored as is: a 4 KiB piece of it is found in the slot image the disk was built from, on the host.
    const image = the().images.slots['1.0.0'] ?? '';
    const file = (await run('unsquashfs', ['-cat', image, 'boot/initrd.img'], { encoding: 'buffer', maxBuffer: 64 * MIB })).stdout;
    const raw = await readFile(image);
    let found = -1;
    for (let offset = 0; found < 0 && offset + 4096 <= file.length; offset += 128 * 1024) found = raw.indexOf(file.subarray(offset, offset + 4096));
    expect(found, 'a stored-as-is piece of /boot/initrd.img').toBeGreaterThanOrEqual(0);
    const at = found + 100;
    expect((await sh('cat /boot/initrd.img > /dev/null')).code).toBe(0);
    const flip = await sh(`v=$(od -An -tu1 -j${at} -N1 ${slot}) && printf "\\\\$(printf %o $(( (v + 1) % 256 )))" | dd of=${slot} bs=1 seek=${at} conv=notrunc,fsync status=none && echo 3 > /proc/sys/vm/drop_caches`);
    expect(flip, flip.stderr).toMatchObject({ code: 0 });
    const read = await sh('cat /boot/initrd.img > /dev/null');
    expect(read.code).not.toBe(0);
    expect(read.stderr).toMatch(/Input\/output error/);
    expect((await sh('dmesg | grep -c "verity.*data block [0-9]* is corrupted"')).stdout.trim()).not.toBe('0');
    // Offline, against the hash the agent recorded: exit 6, and the slot named.
    const verify = await vm.exec('/usr/bin/slipway', ['verify', 'USR-A', '--chooser', 'grubenv'], BOOT_MS);
    expect(verify.code, verify.stdout + verify.stderr).toBe(6);
    expect(verify.stdout + verify.stderr).toMatch(/USR-A/);
  });

  // The health gate's UnitStates contract against real systemd, on the host the cuts leave settled:
  // the same suite the fake systemd passes in the unit tests, read through `slipway units --json`.
  let contractUnits: Promise<void> | null = null;
  unitStatesContract('real systemd in the VM, through `slipway units`', async () => {
    const vm = the().vm(HOST);
    contractUnits ??= startContractUnits(vm);
    await contractUnits;
    return {
      states: cliUnitStates((args) => vm.exec('/usr/bin/slipway', args, BOOT_MS)),
      units: { running: 'ct-running.service', crashLooping: 'ct-crash.service', neverStarted: 'ct-idle.service', oneshotDone: 'ct-once.service', unreferencedOneshotDone: 'ct-gone.service', conditionFailed: 'ct-skipped.service', ranWithCondition: 'ct-ran.service', failed: 'ct-failed.service', missing: 'ct-nothing-here.service' },
    };
  });
});

/** The contract's situations as unit files under real systemd: written, started, and the crash loop seen restarting. */
async function startContractUnits(vm: Vm): Promise<void> {
  const WANTED = '[Install]\nWantedBy=multi-user.target\n';
  const units: Record<string, string> = {
    'ct-running.service': '[Service]\nExecStart=/bin/sleep infinity\n',
    // Restarted every 15 s: after the first restart it sits in auto-restart almost all the time.
    'ct-crash.service': '[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/false\nRestart=always\nRestartSec=15s\n',
    'ct-idle.service': '[Service]\nExecStart=/bin/sleep infinity\n',
    // Wanted by a target, as the units cloud-config enables are: systemd keeps their state after they stop.
    'ct-once.service': `[Service]\nType=oneshot\nExecStart=/bin/true\n${WANTED}`,
    'ct-skipped.service': `[Unit]\nConditionPathExists=/nonexistent\n[Service]\nExecStart=/bin/sleep infinity\n${WANTED}`,
    // Referenced by nothing: unloaded once it stopped.
    'ct-gone.service': '[Service]\nType=oneshot\nExecStart=/bin/true\n',
    'ct-ran.service': '[Unit]\nConditionPathExists=/etc/os-release\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n',
    'ct-failed.service': '[Service]\nExecStart=/bin/false\n',
  };
  const write = Object.entries(units).map(([name, text]) => `printf '${text}' > /etc/systemd/system/${name}`).join(' && ');
  const setUp = await vm.exec('/bin/sh', ['-c', `${write} && systemctl daemon-reload && systemctl enable ct-once ct-skipped && systemctl start ct-running ct-once ct-skipped ct-ran ct-gone && systemctl start --no-block ct-crash ct-failed`]);
  expect(setUp, setUp.stderr).toMatchObject({ code: 0 });
  const deadline = Date.now() + 120_000;
  for (;;) {
    const show = await vm.exec('/bin/systemctl', ['show', '-p', 'NRestarts,SubState', 'ct-crash.service']);
    if (/NRestarts=[1-9]/.test(show.stdout) && /SubState=auto-restart/.test(show.stdout)) return;
    if (Date.now() > deadline) throw new Error(`ct-crash.service did not restart within 120 s: ${show.stdout}`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}
