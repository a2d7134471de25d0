// The GPT engine against the real sgdisk: disks sgdisk made read correctly, tables slipway wrote
// pass `sgdisk -v` and show the same attribute bits in `sgdisk -i`, for 512- and 4096-byte sectors.

import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { truncate, writeFile } from 'node:fs/promises';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { GptBootChooser } from '../../agent/slots/gpt-boot-chooser.ts';
import { attachLoop, coreosLayoutArgs, run, useTempDir } from '../builders/coreos-disk.ts';
import type { SlotAttributes } from '../builders/coreos-disk.ts';
import type { SlotState } from '../../agent/slots/boot-chooser.ts';
import { missingTools, LOSETUP, SGDISK } from '../builders/require-tools.ts';

const skip = missingTools({ ...SGDISK, ...LOSETUP });

const dir = useTempDir(skip);

/** Creates a disk with sgdisk: a plain image file for 512, a loop device for 4096. */
async function sgdiskDisk(name: string, sectorSize: 512 | 4096, a: SlotAttributes, b: SlotAttributes): Promise<{ disk: string; done: () => Promise<void> }> {
  const image = join(dir(), name);
  await writeFile(image, '');
  await truncate(image, 96 * 1024 * 1024);
  if (sectorSize === 512) {
    await run('sgdisk', [...coreosLayoutArgs(512, a, b), image]);
    return { disk: image, done: async () => {} };
  }
  const loop = await attachLoop(image, sectorSize);
  try {
    await run('sgdisk', [...coreosLayoutArgs(sectorSize, a, b), loop.device]);
  } catch (error) {
    await loop.detach();
    throw error;
  }
  return { disk: loop.device, done: () => loop.detach() };
}

async function sgdiskAttributes(disk: string, partition: number): Promise<bigint> {
  const { stdout } = await run('sgdisk', ['-i', String(partition), disk]);
  const match = /Attribute flags: ([0-9a-fA-F]{16})/.exec(stdout);
  if (!match?.[1]) throw new Error(`no attribute flags in sgdisk -i output:\n${stdout}`);
  return BigInt(`0x${match[1]}`);
}

async function sgdiskPartUuid(disk: string, partition: number): Promise<string> {
  const { stdout } = await run('sgdisk', ['-i', String(partition), disk]);
  return /Partition unique GUID: ([0-9A-F-]{36})/i.exec(stdout)?.[1]?.toLowerCase() ?? 'missing';
}

function expectedBits(slot: SlotState): bigint {
  return (BigInt(slot.priority) << 48n) | (BigInt(slot.tries) << 52n) | ((slot.successful ? 1n : 0n) << 56n);
}

const chooserFor = (disk: string): GptBootChooser => new GptBootChooser(({ writable }) => FileBlockDevice.open(disk, { writable }));

describe.skipIf(skip !== null).each([512, 4096] as const)(`${skip ?? ''} with %i-byte sectors`, (sectorSize) => {
  it('reads the slots and flags sgdisk set', async () => {
    const { disk, done } = await sgdiskDisk(`read-${sectorSize}.img`, sectorSize, { priority: 2, tries: 0, successful: true }, { priority: 1, tries: 5, successful: false });
    try {
      const device = await FileBlockDevice.open(disk, { writable: false });
      expect(device.sectorSize).toBe(sectorSize);
      await device.close();
      const state = await chooserFor(disk).read();
      expect(state.slots.map(({ name, partition, priority, tries, successful }) => ({ name, partition, priority, tries, successful }))).toEqual([
        { name: 'USR-A', partition: 3, priority: 2, tries: 0, successful: true },
        { name: 'USR-B', partition: 4, priority: 1, tries: 5, successful: false },
      ]);
      expect(state.slots[0]?.partuuid).toBe(await sgdiskPartUuid(disk, 3));
      expect(state.slots[1]?.partuuid).toBe(await sgdiskPartUuid(disk, 4));
      expect(state.next).toBe('USR-A');
    } finally {
      await done();
    }
  });

  it('writes tables that sgdisk verifies and reads back with the same bits', async () => {
    const { disk, done } = await sgdiskDisk(`write-${sectorSize}.img`, sectorSize, { priority: 1, tries: 0, successful: true }, { priority: 0, tries: 0, successful: false });
    try {
      const chooser = chooserFor(disk);
      for (const step of [() => chooser.stage('USR-B', 3), () => chooser.markGood('USR-B'), () => chooser.markUnbootable('USR-A')]) {
        const state = await step();
        const verify = await run('sgdisk', ['-v', disk]);
        expect(verify.stdout).toContain('No problems found');
        for (const slot of state.slots) expect(await sgdiskAttributes(disk, slot.partition)).toBe(expectedBits(slot));
      }
      // Other partitions and their names are untouched.
      const { stdout } = await run('sgdisk', ['-p', disk]);
      for (const name of ['EFI-SYSTEM', 'BIOS-BOOT', 'OEM', 'ROOT']) expect(stdout).toContain(name);
    } finally {
      await done();
    }
  });

  it('keeps attribute bits outside 48-56 that sgdisk set', async () => {
    const { disk, done } = await sgdiskDisk(`other-bits-${sectorSize}.img`, sectorSize, { priority: 1, tries: 0, successful: true }, { priority: 0, tries: 0, successful: false });
    try {
      await run('sgdisk', ['-A', '4:set:60', '-A', '4:set:2', disk]);
      await chooserFor(disk).stage('USR-B', 1);
      expect(await sgdiskAttributes(disk, 4)).toBe((1n << 60n) | (1n << 2n) | (2n << 48n) | (1n << 52n));
    } finally {
      await done();
    }
  });
});
