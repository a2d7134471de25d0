// Opens one slot of a disk for writing an image into it: the partition's byte range from the GPT,
// wrapped so that nothing is written outside it.

import { InternalError } from '../../platform/internal-error.ts';
import { readGpt } from './gpt-disk.ts';
import { findUsrSlots } from './usr-slots.ts';
import { PartitionBlockDevice } from './partition-block-device.ts';
import type { BlockDevice } from './block-device.ts';
import type { SlotName } from './boot-chooser.ts';

export async function openSlot(disk: BlockDevice, slot: SlotName): Promise<PartitionBlockDevice> {
  const { table } = await readGpt(disk, { repair: false });
  const found = findUsrSlots(table.entries, disk.path).find((s) => s.name === slot);
  if (!found) throw new InternalError(`${slot} is not among the slots of ${disk.path}`);
  const start = Number(found.entry.firstLba) * disk.sectorSize;
  const size = Number(found.entry.lastLba - found.entry.firstLba + 1n) * disk.sectorSize;
  return new PartitionBlockDevice(disk, start, size, slot);
}
