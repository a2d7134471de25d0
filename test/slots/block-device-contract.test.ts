// One contract for every BlockDevice: the in-memory fake used by unit tests and the real file
// adapter (image file and loop block device) must behave the same.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { MemoryBlockDevice } from '../fakes/memory-block-device.ts';
import { attachLoop, tempDir } from '../builders/coreos-disk.ts';
import type { BlockDevice } from '../../agent/slots/block-device.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import { missingTools, LOSETUP } from '../builders/require-tools.ts';

const skip = missingTools(LOSETUP);

const SIZE = 1024 * 1024;
let dir: TempDir;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  if (skip !== null) return;
  dir = await tempDir();
});
afterAll(async () => {
  if (skip !== null) return;
  for (const cleanup of cleanups) await cleanup();
  await dir.remove();
});

async function imageFile(name: string): Promise<string> {
  const path = join(dir.path, name);
  await writeFile(path, '');
  await truncate(path, SIZE);
  return path;
}

const adapters: [string, () => Promise<BlockDevice>, number][] = [
  ['MemoryBlockDevice', () => Promise.resolve(new MemoryBlockDevice(new Uint8Array(SIZE))), 512],
  ['FileBlockDevice on an image file', async () => FileBlockDevice.open(await imageFile('contract.img'), { writable: true, sectorSize: 512 }), 512],
  [
    'FileBlockDevice on a 4096-byte loop device',
    async () => {
      const loop = await attachLoop(await imageFile('loop.img'), 4096);
      cleanups.push(() => loop.detach());
      return FileBlockDevice.open(loop.device, { writable: true });
    },
    4096,
  ],
];

describe.skipIf(skip !== null).each(adapters)(`${skip ?? ''} %s`, (_name, openDevice, sectorSize) => {
  it('reports size and sector size', async () => {
    const device = await openDevice();
    expect(device.size).toBe(SIZE);
    expect(device.sectorSize).toBe(sectorSize);
    await device.close();
  });

  it('reads back what it wrote, at any offset, after a sync', async () => {
    const device = await openDevice();
    const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 256);
    await device.write(SIZE - 1000, data);
    await device.write(3, data.subarray(0, 10));
    await device.sync();
    expect(await device.read(SIZE - 1000, 1000)).toEqual(data);
    expect(await device.read(0, 13)).toEqual(Uint8Array.from([0, 0, 0, ...data.subarray(0, 10)]));
    await device.close();
  });

  it('reads into a caller buffer the same bytes as read', async () => {
    const device = await openDevice();
    await device.write(4096, Uint8Array.from([1, 2, 3, 4, 5]));
    const target = new Uint8Array(5);
    await device.readInto(4096, target);
    expect(target).toEqual(await device.read(4096, 5));
    await expect(device.readInto(SIZE - 2, new Uint8Array(4))).rejects.toThrow();
    await device.close();
  });

  it('refuses reads and writes past the end without writing', async () => {
    const device = await openDevice();
    await expect(device.write(SIZE - 4, new Uint8Array(8).fill(0xaa))).rejects.toThrow();
    await expect(device.read(SIZE - 4, 8)).rejects.toThrow();
    expect(await device.read(SIZE - 4, 4)).toEqual(new Uint8Array(4));
    await device.close();
  });
});
