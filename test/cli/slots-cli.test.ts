// The `slipway slots` command as operators run it: a real process on a real image, its JSON
// fields, its table, and its documented exit codes with the cause chain on stderr.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeCoreosImage, run, tempDir } from '../builders/coreos-disk.ts';
import { startDbusDaemon } from '../builders/dbus-daemon.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { makeTestRoot } from '../builders/test-root.ts';
import { startFakeSystemd } from '../fakes/fake-systemd.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import { runSlipway } from '../builders/run-slipway.ts';

const skip = missingTools({ ...SGDISK, etcd: 'etcd-server', 'dbus-daemon': 'dbus-daemon' });

let dir: TempDir;
let disk: string;
beforeAll(async () => {
  if (skip !== null) return;
  dir = await tempDir();
  disk = join(dir.path, 'disk.img');
  await makeCoreosImage(disk);
});
afterAll(async () => {
  if (skip !== null) return;
  await dir.remove();
});

function slipway(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runSlipway(args);
}

interface SlotsJson {
  slots: { name: string; partuuid: string; priority: number; tries: number; successful: boolean }[];
  booted: string | null;
  next: string | null;
}

describe.skipIf(skip !== null)(`${skip ?? ''} slipway slots`, () => {
  it('prints the documented JSON fields', async () => {
    const result = await slipway('slots', '--disk', disk, '--json', '--booted', 'USR-A');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as SlotsJson;
    const { stdout } = await run('sgdisk', ['-i', '3', disk]);
    expect(json.slots[0]?.partuuid).toBe(/Partition unique GUID: (\S+)/.exec(stdout)?.[1]?.toLowerCase());
    expect(json.slots.map(({ name, priority, tries, successful }) => ({ name, priority, tries, successful }))).toEqual([
      { name: 'USR-A', priority: 1, tries: 0, successful: true },
      { name: 'USR-B', priority: 0, tries: 0, successful: false },
    ]);
    expect(json.booted).toBe('USR-A');
    expect(json.next).toBe('USR-A');
  });

  it('stages and marks good, showing the next boot in the table', async () => {
    const staged = await slipway('slots', 'stage', 'USR-B', '--disk', disk, '--tries', '3', '--booted', 'USR-A');
    expect(staged.code).toBe(0);
    expect(staged.stdout).toMatch(/USR-B\s+4\s+\S+\s+2\s+3\s+no\s+next boot/);
    expect(staged.stdout).toMatch(/●\s+USR-A.*booted/);
    const good = await slipway('slots', 'mark-good', 'usr-b', '--disk', disk, '--json');
    expect(JSON.parse(good.stdout)).toMatchObject({ next: 'USR-B', slots: [{ name: 'USR-A' }, { name: 'USR-B', tries: 0, successful: true }] });
  });

  it('reads the booted slot from the kernel command line when not given', async () => {
    const cmdline = join(dir.path, 'cmdline');
    const { stdout } = await run('sgdisk', ['-i', '4', disk]);
    await writeFile(cmdline, `console=ttyS0 mount.usr=PARTUUID=${/Partition unique GUID: (\S+)/.exec(stdout)?.[1]} ro\n`);
    const result = await slipwayWithCmdline(cmdline, 'slots', '--disk', disk, '--json');
    expect(JSON.parse(result.stdout)).toMatchObject({ booted: 'USR-B' });
  });

  it('exits 2 on usage errors', async () => {
    const result = await slipway('slots', 'stage', 'USR-C', '--disk', disk);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('"USR-C" is not a slot');
    expect((await slipway('slots', '--frobnicate')).code).toBe(2);
    expect((await slipway('nonsense')).code).toBe(2);
  });

  it('exits 3 with the device and problem named when the disk is not GPT', async () => {
    const blank = join(dir.path, 'blank.img');
    await writeFile(blank, Buffer.alloc(1024 * 1024));
    const result = await slipway('slots', '--disk', blank);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(`slipway: no GPT on ${blank}: no "EFI PART" header at LBA 1 or at the last LBA 2047 [ERR_NOT_GPT]\n`);
  });

  it('warns about a damaged GPT copy in the table and the JSON', async () => {
    const damaged = join(dir.path, 'damaged.img');
    const bytes = await readFile(disk);
    bytes[512 + 20] = (bytes[512 + 20] ?? 0) ^ 0xff;
    await writeFile(damaged, bytes);
    const table = await slipway('slots', '--disk', damaged);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(`warning: the primary GPT on ${damaged} is damaged (header CRC32 mismatch); the next change to the slots repairs it`);
    const json = JSON.parse((await slipway('slots', '--disk', damaged, '--json')).stdout) as { warnings: string[] };
    expect(json.warnings).toHaveLength(1);
  });

  it('exits 4 with the cause chain when the device cannot be opened', async () => {
    const result = await slipway('slots', '--disk', join(dir.path, 'absent.img'));
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/^slipway: failed to open .*absent\.img \[ERR_DEVICE_IO\]\n {2}caused by: ENOENT.*\[ENOENT\]\n$/);
  });
});

/** Runs the CLI with /proc/cmdline replaced, through the global --proc-cmdline option. */
function slipwayWithCmdline(cmdline: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runSlipway(['--proc-cmdline', cmdline, ...args]);
}

describe.skipIf(skip !== null)(`${skip ?? ''} the one-file bundle for the OS image`, () => {
  it('builds and runs on its own, outside the source tree, etcd and D-Bus clients included', async () => {
    await run(process.execPath, ['images/bundle.ts']);
    const shipped = join(dir.path, 'usr-lib-slipway');
    await cp('dist', shipped, { recursive: true });
    const bundled = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        execFile(process.execPath, [join(shipped, 'slipway.mjs'), ...args], { cwd: dir.path, env: { ...process.env, ...env } }, (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr }));
      });
    let env: NodeJS.ProcessEnv = {};
    const slots = await bundled('slots', '--disk', disk, '--json');
    expect(slots.code).toBe(0);
    expect(JSON.parse(slots.stdout)).toMatchObject({ chooser: 'gptprio', slots: [{ name: 'USR-A' }, { name: 'USR-B' }] });
    const etcd = await startEtcd();
    try {
      const locked = await bundled('lock', 'acquire', 'bundle-host', '--etcd', etcd.url);
      expect(locked).toMatchObject({ code: 0, stdout: 'acquired by bundle-host, permanently, until unlocked\n' });
    } finally {
      await etcd.stop();
    }
    const daemon = await startDbusDaemon();
    const root = join(dir.path, 'cloud-config-root');
    await makeTestRoot(root);
    const systemd = await startFakeSystemd(daemon.address, root);
    try {
      env = { DBUS_SYSTEM_BUS_ADDRESS: daemon.address };
      await writeFile(join(dir.path, 'user-data'), '#cloud-config\nhostname: bundled\n');
      const applied = await bundled('cloud-config', 'apply', '--from-file', join(dir.path, 'user-data'), '--root', root);
      expect(applied).toMatchObject({ code: 0, stdout: 'changed   hostname bundled\n1 changed, 0 failed (from ' + join(dir.path, 'user-data') + ')\n' });
      expect(systemd.calls).toEqual(['Get StaticHostname', 'SetStaticHostname bundled interactive=false']);
    } finally {
      systemd.bus.disconnect();
      await daemon.stop();
    }
  });
});
