// Finds the whole disk that holds the booted slot, so operators need not name it: a partition the
// command line names (or the one under the mounted /usr or /) leads to a partition device, and sysfs
// to the disk it belongs to.

import { realpath } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { readBootFacts } from './booted-slot.ts';
import { SlotError } from './slot-errors.ts';
import type { BootedSlotHost } from './booted-slot.ts';

export type HostPaths = BootedSlotHost;

export const HOST_PATHS: HostPaths = { procCmdline: '/proc/cmdline', procMountinfo: '/proc/self/mountinfo', devRoot: '/dev', sysfsRoot: '/sys', bootedSlot: null };

export async function findBootDisk(paths: HostPaths): Promise<string> {
  const { facts, looked } = await readBootFacts(paths);
  const failed: string[] = [];
  for (const { ref, source } of facts) {
    const link = 'partuuid' in ref ? `${paths.devRoot}/disk/by-partuuid/${ref.partuuid}` : `${paths.devRoot}/disk/by-partlabel/${ref.partlabel}`;
    try {
      const partition = basename(await realpath(link));
      const disk = basename(dirname(await realpath(`${paths.sysfsRoot}/class/block/${partition}`)));
      return `${paths.devRoot}/${disk}`;
    } catch {
      failed.push(`${source}: ${link} does not resolve`);
    }
  }
  throw new SlotError('ERR_BOOTED_SLOT_UNKNOWN', `cannot find the disk the running system booted from (${[...looked, ...failed].join('; ')}); pass --disk`);
}
