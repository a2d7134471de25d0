// Which partition the running /usr (or, without a /usr mount, /) comes from: its device number in
// /proc/self/mountinfo, followed through sysfs (a device-mapper device to the partitions under it)
// to a partition, whose PARTUUID the kernel's uevent gives or the disk's own GPT does.

import { readdir, readFile, realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FileBlockDevice } from './file-block-device.ts';
import { readGpt } from './gpt-disk.ts';
import type { PartitionFact } from './kernel-cmdline.ts';

export interface MountPaths {
  /** /proc/self/mountinfo */
  readonly procMountinfo: string;
  /** Where sysfs is mounted: /sys */
  readonly sysfsRoot: string;
  /** Where device nodes are: /dev (the disk's GPT is read through /dev/block/M:m) */
  readonly devRoot: string;
}

export interface MountEntry {
  readonly mountPoint: string;
  /** "major:minor" of the device the file system is on. */
  readonly device: string;
  readonly fsType: string;
  readonly source: string;
}

/** The lines of a mountinfo file, in mount order; the mount point's octal escapes (\040) undone. */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    const device = fields[2];
    const mountPoint = fields[4];
    if (dash < 6 || device === undefined || mountPoint === undefined || !/^\d+:\d+$/.test(device)) continue;
    entries.push({
      mountPoint: mountPoint.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))),
      device,
      fsType: fields[dash + 1] ?? '',
      source: fields[dash + 2] ?? '',
    });
  }
  return entries;
}

/** The mount the running OS's code is read from: the last (visible) /usr mount, else the last / mount. */
export function osMount(entries: readonly MountEntry[]): MountEntry | null {
  return entries.findLast((e) => e.mountPoint === '/usr') ?? entries.findLast((e) => e.mountPoint === '/') ?? null;
}

/**
 * The partitions under the OS's mount, as facts, and one line saying what was looked at (for a
 * refusal). Nothing here throws: an unreadable file is a missing fact, said in `looked`.
 */
export async function mountedFacts(paths: MountPaths): Promise<{ facts: PartitionFact[]; looked: string }> {
  let text: string;
  try {
    text = await readFile(paths.procMountinfo, 'utf8');
  } catch (error) {
    return { facts: [], looked: `${paths.procMountinfo} could not be read (${(error as Error).message})` };
  }
  const mount = osMount(parseMountinfo(text));
  if (mount === null) return { facts: [], looked: `${paths.procMountinfo} has no / or /usr mount` };
  const what = `${mount.mountPoint} is ${mount.fsType} on ${mount.device} (${mount.source})`;
  const found: PartitionFact[] = [];
  const problems: string[] = [];
  await collect(paths, mount.device, what, found, problems, 0);
  if (found.length === 0) return { facts: [], looked: `${what}: ${problems.join('; ') || 'no partition'}` };
  return { facts: found, looked: `${what}: ${found.map((f) => f.source).join(', ')}` };
}

async function collect(paths: MountPaths, device: string, what: string, found: PartitionFact[], problems: string[], depth: number): Promise<void> {
  const dir = join(paths.sysfsRoot, 'dev', 'block', device);
  if (depth > 4) {
    problems.push(`${dir}: too many device-mapper levels`);
    return;
  }
  const partition = await readFile(join(dir, 'partition'), 'utf8').catch(() => null);
  if (partition !== null) {
    const fact = await partitionFact(paths, dir, device, Number(partition.trim())).catch((error: unknown) => {
      problems.push(`${device}: ${(error as Error).message}`);
      return null;
    });
    if (fact) found.push({ ref: fact.ref, source: `${what} -> ${fact.source}` });
    return;
  }
  // A device-mapper device (dm-verity, LVM): the partitions it is built on are its slaves.
  const slaves = await readdir(join(dir, 'slaves')).catch(() => []);
  if (slaves.length === 0) {
    problems.push(`${dir} is not a partition and has nothing under it`);
    return;
  }
  for (const slave of slaves) {
    const slaveDevice = (await readFile(join(dir, 'slaves', slave, 'dev'), 'utf8').catch(() => '')).trim();
    if (/^\d+:\d+$/.test(slaveDevice)) await collect(paths, slaveDevice, `${what} -> ${slave}`, found, problems, depth + 1);
    else problems.push(`${join(dir, 'slaves', slave, 'dev')} could not be read`);
  }
}

/** The PARTUUID of partition `number`: from its uevent (newer kernels), else from its disk's GPT. */
async function partitionFact(paths: MountPaths, dir: string, device: string, number: number): Promise<PartitionFact> {
  const uevent = await readFile(join(dir, 'uevent'), 'utf8').catch(() => '');
  const fromUevent = /^PARTUUID=([0-9a-fA-F-]{36})$/m.exec(uevent)?.[1];
  if (fromUevent) return { ref: { partuuid: fromUevent.toLowerCase() }, source: `partition ${number} of ${device}, PARTUUID=${fromUevent.toLowerCase()} (uevent)` };
  const diskDir = dirname(await realpath(dir));
  const diskDevice = (await readFile(join(diskDir, 'dev'), 'utf8')).trim();
  const node = join(paths.devRoot, 'block', diskDevice);
  const disk = await FileBlockDevice.open(node, { writable: false });
  try {
    const { table } = await readGpt(disk, { repair: false });
    const entry = table.entries.find((e) => e.index + 1 === number);
    if (!entry) throw new Error(`the GPT of ${node} has no partition ${number}`);
    return { ref: { partuuid: entry.uniqueGuid }, source: `partition ${number} of disk ${diskDevice}, PARTUUID=${entry.uniqueGuid} (GPT of ${node})` };
  } finally {
    await disk.close();
  }
}
