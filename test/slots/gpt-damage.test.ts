// Damaged and foreign disks: a repair from the good copy, or a clear error naming the device and
// the problem, and nothing written on error.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { GptBootChooser } from '../../agent/slots/gpt-boot-chooser.ts';
import { readGpt } from '../../agent/slots/gpt-disk.ts';
import { makeCoreosImage, run, tempDir, USR_TYPE } from '../builders/coreos-disk.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';

const skip = missingTools(SGDISK);

let dir: TempDir;
let pristine: Uint8Array;
const SECTOR = 512;
beforeAll(async () => {
  if (skip !== null) return;
  dir = await tempDir();
  const path = join(dir.path, 'pristine.img');
  await makeCoreosImage(path);
  pristine = await readFile(path);
});
afterAll(async () => {
  if (skip !== null) return;
  await dir.remove();
});

let counter = 0;
async function imageWith(damage: (bytes: Uint8Array) => Uint8Array | void): Promise<string> {
  const path = join(dir.path, `case-${counter++}.img`);
  const bytes = Uint8Array.from(pristine);
  await writeFile(path, damage(bytes) ?? bytes);
  return path;
}

const chooserFor = (disk: string): GptBootChooser => new GptBootChooser(({ writable }) => FileBlockDevice.open(disk, { writable, sectorSize: SECTOR }));
const lastLba = (): number => pristine.length / SECTOR - 1;
/** Flips bits of one byte, as a bad sector or a stray write would. */
const flip = (bytes: Uint8Array, at: number, mask: number): void => {
  bytes[at] = (bytes[at] ?? 0) ^ mask;
};

describe.skipIf(skip !== null)(`${skip ?? ''} repairs one damaged copy from the other`, () => {
  it.each([
    ['primary header', (b: Uint8Array) => flip(b, SECTOR + 20, 0xff)],
    ['primary entry array', (b: Uint8Array) => flip(b, 2 * SECTOR + 2 * 128 + 50, 0x01)],
    ['backup header', (b: Uint8Array) => flip(b, lastLba() * SECTOR + 20, 0xff)],
    ['backup entry array', (b: Uint8Array) => flip(b, (lastLba() - 32) * SECTOR + 2 * 128 + 50, 0x01)],
  ])('%s', async (_name, damage) => {
    const disk = await imageWith(damage);
    const before = await readFile(disk);
    const device = await FileBlockDevice.open(disk, { writable: false });
    const readOnly = await readGpt(device, { repair: false });
    await device.close();
    expect(readOnly.damaged).not.toBeNull();
    expect(Buffer.compare(await readFile(disk), before)).toBe(0);
    const original = await chooserFor(await imageWith(() => {})).read();
    const damagedRead = await chooserFor(disk).read();
    expect(damagedRead.slots).toEqual(original.slots);
    expect(damagedRead.warnings).toEqual([expect.stringMatching(/GPT on .*\.img is damaged \(.+\); the next change to the slots repairs it$/)]);

    const staged = await chooserFor(disk).stage('USR-B', 1);
    expect(staged.warnings).toEqual([expect.stringMatching(/^repaired the (primary|backup) GPT on /)]);
    const verify = await run('sgdisk', ['-v', disk]);
    expect(verify.stdout).toContain('No problems found');
    const again = await FileBlockDevice.open(disk, { writable: false });
    expect((await readGpt(again, { repair: false })).damaged).toBeNull();
    await again.close();
  });

  it('reports the backup as stale when both copies are valid but differ, and the primary wins', async () => {
    const disk = await imageWith(() => {});
    await run('sgdisk', ['-A', '4:set:48', disk]);
    const newer = await readFile(disk);
    const mixed = await imageWith((b) => {
      b.set(newer.subarray(0, 34 * SECTOR), 0);
    });
    const device = await FileBlockDevice.open(mixed, { writable: false });
    const result = await readGpt(device, { repair: false });
    await device.close();
    expect(result.damaged).toEqual({ copy: 'backup', problem: 'backup differs from primary' });
    expect((await chooserFor(mixed).read()).slots[1]?.priority).toBe(1);
  });
});

describe.skipIf(skip !== null)(`${skip ?? ''} refuses with a clear error and writes nothing`, () => {
  const cases: [string, (b: Uint8Array) => Uint8Array | void, string, RegExp][] = [
    ['both copies corrupt', (b) => (flip(b, SECTOR + 20, 0xff), flip(b, lastLba() * SECTOR + 20, 0xff)), 'ERR_GPT_CORRUPT', /both GPT copies on .*case-\d+\.img are damaged: primary: header CRC32 mismatch/],
    ['not GPT at all', (b) => new Uint8Array(b.length), 'ERR_NOT_GPT', /no GPT on .*case-\d+\.img/],
    ['truncated image', (b) => b.slice(0, b.length - 4 * 1024 * 1024), 'ERR_GPT_TRUNCATED', /backup header at LBA \d+ but the device ends at LBA \d+ \(truncated image\?\)/],
  ];
  it.each(cases)('%s', async (_name, damage, code, message) => {
    const disk = await imageWith(damage);
    const before = await readFile(disk);
    const error = await chooserFor(disk).stage('USR-B', 1).catch((e: unknown) => e);
    expect(error).toMatchObject({ code });
    expect((error as Error).message).toMatch(message);
    expect(Buffer.compare(await readFile(disk), before)).toBe(0);
  });

  it('no USR partitions', async () => {
    const disk = await imageWith(() => {});
    await run('sgdisk', ['-d', '3', '-d', '4', disk]);
    const before = await readFile(disk);
    await expect(chooserFor(disk).stage('USR-B', 1)).rejects.toMatchObject({
      code: 'ERR_SLOTS_MISSING',
      message: expect.stringMatching(/no partitions of the CoreOS usr type .* on .*\.img/) as unknown,
    });
    expect(Buffer.compare(await readFile(disk), before)).toBe(0);
  });

  it('three USR partitions', async () => {
    const disk = await imageWith(() => {});
    await run('sgdisk', ['-t', `6:${USR_TYPE}`, '-c', '6:USR-C', disk]);
    const before = await readFile(disk);
    await expect(chooserFor(disk).markGood('USR-A')).rejects.toMatchObject({
      code: 'ERR_SLOTS_AMBIGUOUS',
      message: expect.stringContaining('found 3: 3 USR-A, 4 USR-B, 6 USR-C') as unknown,
    });
    expect(Buffer.compare(await readFile(disk), before)).toBe(0);
  });

  it('a file too small to be a disk', async () => {
    const disk = join(dir.path, 'tiny.img');
    await writeFile(disk, '');
    await truncate(disk, 1024);
    await expect(chooserFor(disk).read()).rejects.toMatchObject({ code: 'ERR_NOT_GPT', message: expect.stringContaining('too small') as unknown });
  });

  it('a missing device', async () => {
    await expect(chooserFor(join(dir.path, 'absent.img')).read()).rejects.toMatchObject({
      code: 'ERR_DEVICE_IO',
      message: expect.stringContaining('failed to open') as unknown,
    });
  });
});
