// RootDeviceFacts on this host: the root mount's device number from /proc/self/mountinfo, its
// device-mapper name from sysfs, its table from `dmsetup table` (the kernel's own table line).

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inspectRoot } from '../health/verity-root.ts';
import type { RootDeviceFacts, VerityView } from '../health/verity-root.ts';

const run = promisify(execFile);

export interface RootFactPaths {
  readonly mountinfo: string;
  readonly sysDevBlock: string;
  readonly dmsetup: string;
}

export const HOST_ROOT_FACTS: RootFactPaths = { mountinfo: '/proc/self/mountinfo', sysDevBlock: '/sys/dev/block', dmsetup: 'dmsetup' };

export class HostRootDeviceFacts implements RootDeviceFacts {
  private readonly paths: RootFactPaths;

  constructor(paths: RootFactPaths = HOST_ROOT_FACTS) {
    this.paths = paths;
  }

  async rootDevice(): Promise<string> {
    const text = await readFile(this.paths.mountinfo, 'utf8');
    // Fields: id, parent, major:minor, root, mount point, ...; the last mount on "/" is the one seen.
    const root = text.split('\n').map((line) => line.split(' ')).findLast((fields) => fields[4] === '/');
    const device = root?.[2];
    if (device === undefined || !/^[0-9]+:[0-9]+$/.test(device)) throw new Error(`${this.paths.mountinfo} has no mount on /`);
    return device;
  }

  async dmName(device: string): Promise<string | null> {
    try {
      return (await readFile(join(this.paths.sysDevBlock, device, 'dm', 'name'), 'utf8')).trim();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async dmTable(name: string): Promise<string> {
    return (await run(this.paths.dmsetup, ['table', '--', name], { timeout: 10_000 })).stdout;
  }
}

/** This host's root against `recorded`: what the gate's verified-root probe and the status both look at. */
export function inspectHostRoot(recorded: string | null): Promise<VerityView> {
  return inspectRoot(new HostRootDeviceFacts(), recorded);
}
