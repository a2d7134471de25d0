// The partition under the running /usr (or /), from mountinfo and a sysfs tree laid out as the
// kernel's: a plain partition, one whose PARTUUID only its disk's GPT (made by sgdisk) knows, a
// dm-verity device over a partition, and mounts that are no partition at all.

import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mountedFacts, osMount, parseMountinfo } from '../../agent/slots/mounted-partitions.ts';
import { makeCoreosImage, run, useTempDir } from '../builders/coreos-disk.ts';
import { writeHostFixture } from '../builders/host-fixture.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';

const skip = missingTools(SGDISK);
const dir = useTempDir(skip);
let counter = 0;
const UUID_3 = '0b7e3e8c-8c55-4f6b-9a55-3c1b8f0d9a01';
const fixtureDir = (): string => join(dir(), `host-${counter++}`);
const disk = (partuuid?: string, image?: string) => ({
  name: 'vda',
  device: '254:0',
  ...(image ? { image } : {}),
  partitions: [{ name: 'vda3', device: '254:3', number: 3, label: 'USR-A', ...(partuuid ? { partuuid } : {}) }, { name: 'vda9', device: '254:9', number: 9 }],
});

describe('parseMountinfo', () => {
  it('reads device, mount point (escapes undone) and file system; the last /usr wins, else the last /', () => {
    const entries = parseMountinfo(
      ['27 1 254:9 / / rw,relatime - ext4 /dev/vda9 rw', '30 27 254:3 / /usr ro - squashfs /dev/vda3 ro', '31 27 0:40 / /my\\040dir rw - tmpfs tmpfs rw', 'garbage'].join('\n'),
    );
    expect(entries.map((e) => [e.mountPoint, e.device, e.fsType])).toEqual([['/', '254:9', 'ext4'], ['/usr', '254:3', 'squashfs'], ['/my dir', '0:40', 'tmpfs']]);
    expect(osMount(entries)?.device).toBe('254:3');
    expect(osMount(entries.filter((e) => e.mountPoint !== '/usr'))?.device).toBe('254:9');
  });
});

describe.skipIf(skip !== null)(`${skip ?? ''} mountedFacts`, () => {
  it('a /usr partition whose uevent gives its PARTUUID', async () => {
    const host = await writeHostFixture(fixtureDir(), { cmdline: 'ro', mounts: [{ mountPoint: '/', device: '254:9', fsType: 'ext4', source: '/dev/vda9' }, { mountPoint: '/usr', device: '254:3', fsType: 'squashfs', source: '/dev/vda3' }], disks: [disk(UUID_3)] });
    const { facts, looked } = await mountedFacts(host);
    expect(facts.map((f) => f.ref)).toEqual([{ partuuid: UUID_3 }]);
    expect(looked).toContain('/usr is squashfs on 254:3 (/dev/vda3)');
  });

  it('a partition without PARTUUID in its uevent: read from its disk\'s GPT', async () => {
    const where = fixtureDir();
    const image = `${where}.img`;
    await makeCoreosImage(image);
    const partuuid = /Partition unique GUID: (\S+)/.exec((await run('sgdisk', ['-i', '3', image])).stdout)?.[1]?.toLowerCase();
    const host = await writeHostFixture(where, { cmdline: 'ro', mounts: [{ mountPoint: '/', device: '254:3', fsType: 'squashfs', source: '/dev/vda3' }], disks: [disk(undefined, image)] });
    const { facts } = await mountedFacts(host);
    expect(facts).toEqual([{ ref: { partuuid }, source: expect.stringContaining(`partition 3 of disk 254:0, PARTUUID=${partuuid} (GPT of `) as unknown }]);
  });

  it('dm-verity /usr: the partition under the mapper device', async () => {
    const host = await writeHostFixture(fixtureDir(), {
      cmdline: 'mount.usr=/dev/mapper/usr',
      mounts: [{ mountPoint: '/usr', device: '253:0', fsType: 'squashfs', source: '/dev/mapper/usr' }],
      disks: [disk(UUID_3)],
      mappers: [{ name: 'dm-0', device: '253:0', slaves: ['vda3'] }],
    });
    const { facts } = await mountedFacts(host);
    expect(facts).toEqual([{ ref: { partuuid: UUID_3 }, source: expect.stringContaining('-> vda3 -> partition 3 of 254:3') as unknown }]);
  });

  it('no partition: an overlay root, a whole disk, a missing file; each said in `looked`', async () => {
    const overlay = await writeHostFixture(fixtureDir(), { cmdline: 'ro' });
    expect(await mountedFacts(overlay)).toEqual({ facts: [], looked: expect.stringContaining('/ is overlay on 0:31 (overlay)') as unknown });
    const whole = await writeHostFixture(fixtureDir(), { cmdline: 'ro', mounts: [{ mountPoint: '/', device: '254:0', fsType: 'ext4', source: '/dev/vda' }], disks: [disk(UUID_3)] });
    expect(await mountedFacts(whole)).toEqual({ facts: [], looked: expect.stringContaining('is not a partition and has nothing under it') as unknown });
    expect(await mountedFacts({ ...whole, procMountinfo: join(dir(), 'absent') })).toEqual({ facts: [], looked: expect.stringContaining('could not be read') as unknown });
  });
});
