// A running system's files as a test's own: a kernel command line, a mountinfo and a sysfs tree laid
// out as the kernel's (/sys/dev/block/M:m links to device directories with dev, partition and
// uevent; device-mapper devices with slaves/), pointed at by slipway's global options.

import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

export interface FixtureMount {
  readonly mountPoint: string;
  readonly device: string;
  readonly fsType: string;
  readonly source: string;
}

export interface FixtureDisk {
  readonly name: string;
  readonly device: string;
  /** Linked as <dev>/block/M:m, so the disk's GPT can be read. */
  readonly image?: string;
  readonly partitions: readonly { readonly name: string; readonly device: string; readonly number: number; readonly partuuid?: string; readonly label?: string }[];
}

export interface FixtureMapper {
  readonly name: string;
  readonly device: string;
  /** Partition names (of the disks above) the device is built on. */
  readonly slaves: readonly string[];
}

export interface HostFixture {
  readonly procCmdline: string;
  readonly procMountinfo: string;
  readonly sysfsRoot: string;
  readonly devRoot: string;
  /** --proc-cmdline, --proc-mountinfo and --sysfs for these files. */
  readonly hostArgs: readonly string[];
}

export function mountinfoLine(id: number, mount: FixtureMount): string {
  return `${id} 1 ${mount.device} / ${mount.mountPoint.replaceAll(' ', '\\040')} ro,relatime shared:${id} - ${mount.fsType} ${mount.source} ro`;
}

export async function writeHostFixture(
  dir: string,
  spec: { cmdline: string; mounts?: readonly FixtureMount[]; disks?: readonly FixtureDisk[]; mappers?: readonly FixtureMapper[] },
): Promise<HostFixture> {
  const sysfsRoot = join(dir, 'sys');
  const devRoot = join(dir, 'dev');
  const procCmdline = join(dir, 'cmdline');
  const procMountinfo = join(dir, 'mountinfo');
  await mkdir(join(sysfsRoot, 'dev', 'block'), { recursive: true });
  await mkdir(join(devRoot, 'block'), { recursive: true });
  await writeFile(procCmdline, `${spec.cmdline}\n`);
  const mounts = spec.mounts ?? [{ mountPoint: '/', device: '0:31', fsType: 'overlay', source: 'overlay' }];
  await writeFile(procMountinfo, `${mounts.map((m, i) => mountinfoLine(20 + i, m)).join('\n')}\n`);
  const byBlock = (device: string, target: string): Promise<void> => symlink(relative(join(sysfsRoot, 'dev', 'block'), target), join(sysfsRoot, 'dev', 'block', device));
  const partitionDirs = new Map<string, string>();
  for (const disk of spec.disks ?? []) {
    const diskDir = join(sysfsRoot, 'devices', 'virtual', 'block', disk.name);
    await mkdir(diskDir, { recursive: true });
    await writeFile(join(diskDir, 'dev'), `${disk.device}\n`);
    await byBlock(disk.device, diskDir);
    if (disk.image) await symlink(disk.image, join(devRoot, 'block', disk.device));
    for (const part of disk.partitions) {
      const partDir = join(diskDir, part.name);
      await mkdir(partDir);
      await writeFile(join(partDir, 'dev'), `${part.device}\n`);
      await writeFile(join(partDir, 'partition'), `${part.number}\n`);
      const [major, minor] = part.device.split(':');
      const uevent = [`MAJOR=${major}`, `MINOR=${minor}`, `DEVNAME=${part.name}`, 'DEVTYPE=partition', `PARTN=${part.number}`];
      if (part.label) uevent.push(`PARTNAME=${part.label}`);
      if (part.partuuid) uevent.push(`PARTUUID=${part.partuuid}`);
      await writeFile(join(partDir, 'uevent'), `${uevent.join('\n')}\n`);
      await byBlock(part.device, partDir);
      partitionDirs.set(part.name, partDir);
    }
  }
  for (const mapper of spec.mappers ?? []) {
    const mapperDir = join(sysfsRoot, 'devices', 'virtual', 'block', mapper.name);
    await mkdir(join(mapperDir, 'slaves'), { recursive: true });
    await writeFile(join(mapperDir, 'dev'), `${mapper.device}\n`);
    for (const slave of mapper.slaves) {
      const target = partitionDirs.get(slave);
      if (target === undefined) throw new Error(`no partition ${slave} in the fixture`);
      await symlink(relative(join(mapperDir, 'slaves'), target), join(mapperDir, 'slaves', slave));
    }
    await byBlock(mapper.device, mapperDir);
  }
  return { procCmdline, procMountinfo, sysfsRoot, devRoot, hostArgs: ['--proc-cmdline', procCmdline, '--proc-mountinfo', procMountinfo, '--sysfs', sysfsRoot] };
}
