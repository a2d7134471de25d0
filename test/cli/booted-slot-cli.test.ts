// Which slot is running, as operators meet it: from the kernel command line, from the mounted /usr,
// from --booted; without any of these every change is refused (exit 12) and says what was looked
// at; a change that targets the running slot is refused (exit 5); a refused change writes nothing,
// not even the repair of a damaged GPT copy.

import { beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeCoreosImage, run, useTempDir } from '../builders/coreos-disk.ts';
import { writeHostFixture } from '../builders/host-fixture.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import type { SlipwayRun } from '../builders/run-slipway.ts';

const skip = missingTools(SGDISK);
const dir = useTempDir(skip);
let pristine: Buffer;
let uuidA = '';
let uuidB = '';
let counter = 0;
const SECTOR = 512;

beforeAll(async () => {
  if (skip !== null) return;
  const path = join(dir(), 'pristine.img');
  await makeCoreosImage(path);
  pristine = await readFile(path);
  const uuid = async (n: number): Promise<string> => /Partition unique GUID: (\S+)/.exec((await run('sgdisk', ['-i', String(n), path])).stdout)?.[1]?.toLowerCase() ?? '';
  [uuidA, uuidB] = [await uuid(3), await uuid(4)];
});

async function freshDisk(damage?: (bytes: Buffer) => void): Promise<string> {
  const path = join(dir(), `disk-${counter++}.img`);
  const bytes = Buffer.from(pristine);
  damage?.(bytes);
  await writeFile(path, bytes);
  return path;
}

/** slipway with the fixture's command line, an overlay / (no partition) and an empty sysfs, unless given. */
async function withHost(cmdline: string, args: string[], spec: Omit<Parameters<typeof writeHostFixture>[1], 'cmdline'> = {}): Promise<SlipwayRun> {
  const host = await writeHostFixture(join(dir(), `host-${counter++}`), { cmdline, ...spec });
  return runSlipway([...host.hostArgs, ...args]);
}

const slotsJson = (result: SlipwayRun): { booted: string | null; bootedFrom: string | null; bootedUnknown: string | null } => JSON.parse(result.stdout) as never;

describe.skipIf(skip !== null)(`${skip ?? ''} the booted slot from facts`, () => {
  it.each([
    ['mount.usr=PARTUUID=', () => `mount.usr=PARTUUID=${uuidB} ro`, 'USR-B'],
    ['usr=PARTUUID=', () => `usr=PARTUUID=${uuidA.toUpperCase()}`, 'USR-A'],
    ['root=PARTLABEL= (the OS image)', () => 'root=PARTLABEL=USR-B rootfstype=squashfs ro', 'USR-B'],
    ['root=/dev/disk/by-partuuid/', () => `root=/dev/disk/by-partuuid/${uuidA}`, 'USR-A'],
    ['verity: mount.usr=/dev/mapper/usr verity.usr=PARTUUID=', () => `mount.usr=/dev/mapper/usr verity.usr=PARTUUID=${uuidB} verity.usrhash=${'ab'.repeat(32)}`, 'USR-B'],
    ['verity: systemd.verity_usr_data=PARTUUID=', () => `mount.usr=/dev/mapper/usr systemd.verity_usr_data=PARTUUID=${uuidA}`, 'USR-A'],
    ['verity: usrhash= alone', () => `mount.usr=/dev/mapper/usr usrhash=${uuidB.replaceAll('-', '')}${'cd'.repeat(16)}`, 'USR-B'],
  ])('kernel command line %s', async (_form, cmdline, slot) => {
    const disk = await freshDisk();
    const result = await withHost(cmdline(), ['slots', '--disk', disk, '--json']);
    expect(result.code).toBe(0);
    expect(slotsJson(result)).toMatchObject({ booted: slot, bootedUnknown: null });
  });

  it('the mounted /usr: mountinfo\'s device, through sysfs, to the partition\'s PARTUUID', async () => {
    const disk = await freshDisk();
    const result = await withHost('ro quiet', ['slots', '--disk', disk, '--json'], {
      mounts: [{ mountPoint: '/', device: '0:31', fsType: 'overlay', source: 'overlay' }, { mountPoint: '/usr', device: '253:0', fsType: 'squashfs', source: '/dev/mapper/usr' }],
      disks: [{ name: 'vda', device: '254:0', partitions: [{ name: 'vda4', device: '254:4', number: 4, partuuid: uuidB }] }],
      mappers: [{ name: 'dm-0', device: '253:0', slaves: ['vda4'] }],
    });
    expect(slotsJson(result)).toMatchObject({ booted: 'USR-B', bootedFrom: expect.stringContaining('/usr is squashfs on 253:0 (/dev/mapper/usr) -> vda4') as unknown });
  });

  it('--booted, for a disk image this host did not boot from; refused when the running system says otherwise', async () => {
    const disk = await freshDisk();
    const staged = await withHost('ro', ['--booted', 'USR-A', 'slots', 'stage', 'USR-B', '--disk', disk, '--json']);
    expect(staged.code).toBe(0);
    expect(slotsJson(staged)).toMatchObject({ booted: 'USR-A', bootedFrom: '--booted USR-A' });
    const before = await readFile(disk);
    const contradicted = await withHost(`mount.usr=PARTUUID=${uuidA}`, ['--booted', 'USR-B', 'slots', 'stage', 'USR-A', '--disk', disk]);
    expect(contradicted.code).toBe(12);
    expect(contradicted.stderr).toContain(`--booted USR-B contradicts the running system (mount.usr=PARTUUID=${uuidA} is USR-A)`);
    expect(Buffer.compare(await readFile(disk), before)).toBe(0);
    expect((await withHost('ro', ['--booted', 'USR-C', 'slots', '--disk', disk])).code).toBe(2);
  });

  it('no facts: every change refused with exit 12 saying what was looked at; showing still works', async () => {
    const disk = await freshDisk();
    const host = join(dir(), `host-${counter++}`);
    for (const change of [['stage', 'USR-B'], ['mark-good', 'USR-A'], ['mark-unbootable', 'USR-B'], ['rollback']]) {
      const result = await withHost('BOOT_IMAGE=/vmlinuz root=/dev/sda9 ro', ['slots', ...change, '--disk', disk]);
      expect(result.code).toBe(12);
      expect(result.stderr).toMatch(/^slipway: cannot tell which slot of .*disk-\d+\.img is running, so every change to its slots is refused: /);
      expect(result.stderr).toContain('cmdline: root=/dev/sda9 (not a partition)');
      expect(result.stderr).toContain('mountinfo: / is overlay on 0:31 (overlay)');
      expect(result.stderr).toContain('say which slot counts as running with --booted SLOT [ERR_BOOTED_SLOT_UNKNOWN]');
    }
    expect(Buffer.compare(await readFile(disk), pristine)).toBe(0);
    const shown = await withHost('ro', ['slots', '--disk', disk]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('running slot: unknown, so changes are refused [ERR_BOOTED_SLOT_UNKNOWN]');
    const update = await withHost('ro', ['update', '--once', '--server', 'http://127.0.0.1:9', '--channel', 'stable', '--keyring', join(host, 'absent.asc'), '--disk', disk, '--state-dir', join(host, 'state')]);
    expect(update.code).toBe(12);
    expect(update.stderr).toContain('[ERR_BOOTED_SLOT_UNKNOWN]');
    expect(Buffer.compare(await readFile(disk), pristine)).toBe(0);
  });

  it('a change that targets the running slot is refused with exit 5', async () => {
    const disk = await freshDisk();
    const cmdline = `mount.usr=PARTUUID=${uuidA}`;
    const stage = await withHost(cmdline, ['slots', 'stage', 'USR-A', '--disk', disk]);
    expect(stage.code).toBe(5);
    expect(stage.stderr).toBe(`slipway: refusing to stage USR-A: it is the running slot (mount.usr=PARTUUID=${uuidA}) [ERR_SLOT_BOOTED]\n`);
    const unbootable = await withHost(cmdline, ['slots', 'mark-unbootable', 'USR-A', '--disk', disk]);
    expect(unbootable.code).toBe(5);
    expect(unbootable.stderr).toContain('USR-B is not the next boot; roll back first [ERR_SLOT_BOOTED]');
    expect(Buffer.compare(await readFile(disk), pristine)).toBe(0);
  });
});

describe.skipIf(skip !== null)(`${skip ?? ''} a refused change writes nothing, not even a GPT repair`, () => {
  const lastLba = (): number => pristine.length / SECTOR - 1;
  const damageBackup = (bytes: Buffer): void => {
    bytes[lastLba() * SECTOR + 20] = (bytes[lastLba() * SECTOR + 20] ?? 0) ^ 0xff;
  };
  const damagePrimaryEntries = (bytes: Buffer): void => {
    bytes[2 * SECTOR + 2 * 128 + 50] = (bytes[2 * SECTOR + 2 * 128 + 50] ?? 0) ^ 0x01;
  };

  it.each([
    ['damaged backup header, staging the running slot', damageBackup, ['slots', 'stage', 'USR-A'], 5, 'ERR_SLOT_BOOTED'],
    ['damaged backup header, rolling back to a slot never good', damageBackup, ['slots', 'rollback'], 5, 'ERR_ROLLBACK_TARGET_NOT_GOOD'],
    ['damaged primary entry array, rolling back to a slot never good', damagePrimaryEntries, ['slots', 'rollback'], 5, 'ERR_ROLLBACK_TARGET_NOT_GOOD'],
    ['damaged backup header, running slot unknown', damageBackup, ['slots', 'stage', 'USR-B'], 12, 'ERR_BOOTED_SLOT_UNKNOWN'],
  ] as const)('%s', async (_name, damage, args, code, errorCode) => {
    const disk = await freshDisk(damage);
    const before = await readFile(disk);
    const cmdline = errorCode === 'ERR_BOOTED_SLOT_UNKNOWN' ? 'ro' : `mount.usr=PARTUUID=${uuidA}`;
    const result = await withHost(cmdline, [...args, '--disk', disk]);
    expect(result.code).toBe(code);
    expect(result.stderr).toContain(`[${errorCode}]`);
    expect(Buffer.compare(await readFile(disk), before)).toBe(0);
  });

  it('the same damage is repaired by a change that goes through', async () => {
    const disk = await freshDisk(damageBackup);
    const result = await withHost(`mount.usr=PARTUUID=${uuidA}`, ['slots', 'stage', 'USR-B', '--disk', disk, '--json']);
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as { warnings: string[] }).warnings).toEqual([expect.stringMatching(/^repaired the backup GPT on /)]);
    expect((await run('sgdisk', ['-v', disk])).stdout).toContain('No problems found');
  });
});
