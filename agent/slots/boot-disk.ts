// Finds the whole disk that holds the booted slot, so operators need not name it: the command
// line's PARTUUID leads to a partition device, and sysfs to the disk it belongs to.

import { readFile, realpath } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { parseCmdline, partitionRefFrom, SLOT_PARAMETERS } from './booted-slot.ts';
import { SlotError } from './slot-errors.ts';

export interface HostPaths {
  readonly procCmdline: string;
  readonly devRoot: string;
  readonly sysfsRoot: string;
}

export const HOST_PATHS: HostPaths = { procCmdline: '/proc/cmdline', devRoot: '/dev', sysfsRoot: '/sys' };

export async function findBootDisk(paths: HostPaths): Promise<string> {
  const cmdline = await readFile(paths.procCmdline, 'utf8');
  const parameters = parseCmdline(cmdline);
  for (const key of SLOT_PARAMETERS) {
    const value = parameters.get(key);
    const ref = value === undefined ? null : partitionRefFrom(value);
    if (!ref) continue;
    const link = 'partuuid' in ref ? `${paths.devRoot}/disk/by-partuuid/${ref.partuuid}` : `${paths.devRoot}/disk/by-partlabel/${ref.partlabel}`;
    try {
      const partition = basename(await realpath(link));
      const disk = basename(dirname(await realpath(`${paths.sysfsRoot}/class/block/${partition}`)));
      return `${paths.devRoot}/${disk}`;
    } catch (cause) {
      throw new SlotError('ERR_BOOTED_SLOT_UNKNOWN', `cannot find the disk of ${key}=${value}: ${link} does not resolve`, { cause });
    }
  }
  throw new SlotError('ERR_BOOTED_SLOT_UNKNOWN', `${paths.procCmdline} names no slot partition (usr=, mount.usr=, verity.usr= or root=); pass --disk`);
}
