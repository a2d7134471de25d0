// The running slot is never written, whatever the boot flags say: `slipway update --once` on a real
// disk image, for each slot running and each way of knowing it (command line by PARTUUID or
// PARTLABEL, the mounted /usr through sysfs, --booted), with the flags set as after an operator's
// rollback (the other slot good and ranked first: the old guess would have called it the running
// one and written this one). The running slot's byte range, found by sgdisk, must be byte-identical
// afterwards and the other must hold the image. And a refused update writes nothing at all, not even
// the repair of a damaged backup GPT.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSigningKey } from '../../images/release-key.ts';
import { publishRelease } from '../../images/publish-release.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import { makeCoreosImage, run, tempDir } from '../builders/coreos-disk.ts';
import { writeHostFixture } from '../builders/host-fixture.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import type { ReleaseServer } from '../../qemu/release-server.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import type { SlotAttributes } from '../builders/coreos-disk.ts';

const skip = missingTools(SGDISK);
const GOOD_FIRST: SlotAttributes = { priority: 2, tries: 0, successful: true };
const GOOD_SECOND: SlotAttributes = { priority: 1, tries: 0, successful: true };
const SECTOR = 512;

let dir: TempDir;
let server: ReleaseServer;
let keyring: string;
let image: Buffer;
let counter = 0;

beforeAll(async () => {
  if (skip !== null) return;
  dir = await tempDir();
  const key = await generateSigningKey({ name: 'test release', email: 'release@test.invalid', now: new Date(Date.now() - 86_400_000) });
  keyring = join(dir.path, 'keyring.asc');
  await writeFile(keyring, key.publicArmored);
  image = randomBytes(512 * 1024);
  await writeFile(join(dir.path, 'slot.img'), image);
  const www = join(dir.path, 'www');
  await mkdir(www);
  for (const [version, channel] of [['1.0.1', 'stable'], ['0.9.0', 'old']] as const) {
    await publishRelease({ image: join(dir.path, 'slot.img'), version, channel, arch: 'x86_64', board: 'qemu', privateKeyArmored: key.privateArmored, outDir: www, now: new Date(), expiresInSeconds: 86_400, chunkSize: 128 * 1024 });
  }
  server = await startReleaseServer(www);
});
afterAll(async () => {
  if (skip !== null) return;
  await server.close();
  await dir.remove();
});

interface Partition {
  readonly partuuid: string;
  /** Byte range, from sgdisk's first and last sector. */
  readonly start: number;
  readonly end: number;
}

async function partition(disk: string, n: number): Promise<Partition> {
  const { stdout } = await run('sgdisk', ['-i', String(n), disk]);
  const field = (name: string): string => new RegExp(`${name}: (\\S+)`).exec(stdout)?.[1] ?? '';
  return { partuuid: field('Partition unique GUID').toLowerCase(), start: Number(field('First sector')) * SECTOR, end: (Number(field('Last sector')) + 1) * SECTOR };
}

type Booted = 'USR-A' | 'USR-B';
type Source = 'cmdline PARTUUID' | 'cmdline PARTLABEL' | 'mounted /usr' | '--booted';

async function hostArgs(source: Source, booted: Booted, running: Partition): Promise<string[]> {
  const where = join(dir.path, `host-${counter++}`);
  if (source === '--booted') return [...(await writeHostFixture(where, { cmdline: 'ro' })).hostArgs, '--booted', booted];
  if (source === 'cmdline PARTUUID') return [...(await writeHostFixture(where, { cmdline: `mount.usr=PARTUUID=${running.partuuid} ro` })).hostArgs];
  if (source === 'cmdline PARTLABEL') return [...(await writeHostFixture(where, { cmdline: `root=PARTLABEL=${booted} ro` })).hostArgs];
  const number = booted === 'USR-A' ? 3 : 4;
  return [
    ...(await writeHostFixture(where, {
      cmdline: 'ro',
      mounts: [{ mountPoint: '/usr', device: `254:${number}`, fsType: 'squashfs', source: `/dev/vda${number}` }],
      disks: [{ name: 'vda', device: '254:0', partitions: [{ name: `vda${number}`, device: `254:${number}`, number, partuuid: running.partuuid }] }],
    })).hostArgs,
  ];
}

function update(args: readonly string[], disk: string, channel = 'stable', chooser: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  return runSlipway([...args, 'update', '--once', '--server', server.url, '--channel', channel, '--keyring', keyring, '--disk', disk, '--state-dir', join(dir.path, `state-${counter++}`), '--current-version', '1.0.0', '--board', 'qemu', '--json', ...chooser]);
}

const cases = (['USR-A', 'USR-B'] as const).flatMap((booted) => (['cmdline PARTUUID', 'cmdline PARTLABEL', 'mounted /usr', '--booted'] as const).map((source) => [booted, source] as const));

describe.skipIf(skip !== null)(`${skip ?? ''} update --once never writes the running slot`, () => {
  it.each(cases)('%s running, known from %s, the other slot good and ranked first', async (booted, source) => {
    const disk = join(dir.path, `disk-${counter++}.img`);
    // As after an operator's rollback: the slot that is not running boots next and is good.
    await makeCoreosImage(disk, booted === 'USR-A' ? GOOD_SECOND : GOOD_FIRST, booted === 'USR-A' ? GOOD_FIRST : GOOD_SECOND);
    const [a, b] = [await partition(disk, 3), await partition(disk, 4)];
    const [running, other] = booted === 'USR-A' ? [a, b] : [b, a];
    const before = await readFile(disk);
    const result = await update(await hostArgs(source, booted, running), disk);
    expect(result.stderr).not.toContain('"level":50');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ result: 'staged', version: '1.0.1', slot: booted === 'USR-A' ? 'USR-B' : 'USR-A' });
    const after = await readFile(disk);
    expect(Buffer.compare(after.subarray(running.start, running.end), before.subarray(running.start, running.end)), `${booted}'s bytes`).toBe(0);
    expect(Buffer.compare(after.subarray(other.start, other.start + image.length), image)).toBe(0);
  });

  it('refuses to write without a fact, whatever the flags say, and the disk is byte-identical', async () => {
    const disk = join(dir.path, `disk-${counter++}.img`);
    await makeCoreosImage(disk, GOOD_FIRST, GOOD_SECOND);
    const before = await readFile(disk);
    const result = await update((await writeHostFixture(join(dir.path, `host-${counter++}`), { cmdline: 'ro' })).hostArgs, disk);
    expect(result.code).toBe(12);
    expect(result.stderr).toContain('[ERR_BOOTED_SLOT_UNKNOWN]');
    expect(Buffer.compare(await readFile(disk), before)).toBe(0);
  });
});

describe.skipIf(skip !== null)(`${skip ?? ''} a refused update writes nothing`, () => {
  it('a downgrade on a disk whose backup GPT is damaged: the file is byte-identical', async () => {
    const disk = join(dir.path, `disk-${counter++}.img`);
    await makeCoreosImage(disk);
    const bytes = await readFile(disk);
    const lastLba = bytes.length / SECTOR - 1;
    bytes[lastLba * SECTOR + 20] = (bytes[lastLba * SECTOR + 20] ?? 0) ^ 0xff;
    await writeFile(disk, bytes);
    const result = await update(['--booted', 'USR-A'], disk, 'old');
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('[ERR_DOWNGRADE_REFUSED]');
    expect(Buffer.compare(await readFile(disk), bytes)).toBe(0);
  });
});
