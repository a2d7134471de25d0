// A whole disk: GPT laid out by sgdisk in CoreOS numbering (1 EFI-SYSTEM, 3 USR-A, 4 USR-B,
// 9 STATE), each partition image placed at its offset with dd, on a sparse file. USR-B starts empty.

import { ReleaseError } from '../release-errors.ts';
import { execFile } from 'node:child_process';
import { rm, stat, truncate, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { ESP_SIZE_MIB } from './esp-image.ts';
import { COREOS_USR_TYPE } from '../../platform/guid.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const ESP_TYPE = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';
const LINUX_TYPE = '0fc63daf-8483-4772-8e79-3d69d8477de4';

export interface DiskLayout {
  readonly slotMiB: number;
  readonly stateMiB: number;
}

export const DEFAULT_LAYOUT: DiskLayout = { slotMiB: 768, stateMiB: 1024 };

async function place(image: string, disk: string, startMiB: number): Promise<void> {
  await run('dd', [`if=${image}`, `of=${disk}`, 'bs=1M', `seek=${startMiB}`, 'conv=notrunc,sparse', 'status=none']);
}

export async function buildDiskImage(options: { out: string; esp: string; slotA: string; state: string; layout: DiskLayout }): Promise<void> {
  const { layout } = options;
  const slot = (await stat(options.slotA)).size;
  if (slot > layout.slotMiB * MiB) throw new ReleaseError('ERR_IMAGE_BUILD', `the slot image is ${Math.ceil(slot / MiB)} MiB; slots are ${layout.slotMiB} MiB`);
  const espStart = 1;
  const aStart = espStart + ESP_SIZE_MIB;
  const bStart = aStart + layout.slotMiB;
  const stateStart = bStart + layout.slotMiB;
  await rm(options.out, { force: true });
  await writeFile(options.out, '');
  await truncate(options.out, (stateStart + layout.stateMiB + 1) * MiB);
  const part = (n: number, start: number, mib: number, type: string, name: string): string[] => ['-n', `${n}:${start * 2048}:+${mib}M`, '-t', `${n}:${type}`, '-c', `${n}:${name}`];
  await run('sgdisk', [
    ...part(1, espStart, ESP_SIZE_MIB, ESP_TYPE, 'EFI-SYSTEM'),
    ...part(3, aStart, layout.slotMiB, COREOS_USR_TYPE, 'USR-A'),
    ...part(4, bStart, layout.slotMiB, COREOS_USR_TYPE, 'USR-B'),
    ...part(9, stateStart, layout.stateMiB, LINUX_TYPE, 'STATE'),
    options.out,
  ]);
  await place(options.esp, options.out, espStart);
  await place(options.slotA, options.out, aStart);
  await place(options.state, options.out, stateStart);
}

/** An empty ext4 STATE filesystem; the initramfs fills it at first boot. */
export async function buildStateImage(out: string, mib: number): Promise<void> {
  await rm(out, { force: true });
  await run('mkfs.ext4', ['-q', '-L', 'STATE', out, `${mib}M`]);
}
