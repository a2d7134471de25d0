// What the kernel command line says about the partition the running OS came from: one case per form.

import { describe, expect, it } from 'vitest';
import { cmdlineFacts, parseCmdline, partuuidFromHash } from './kernel-cmdline.ts';

const A = '7130c94a-213a-4e5a-8e26-6cce9662f132';
const B = 'e03dd35c-7c2d-4a47-b3fe-27f15780a57c';
const HASH = `${B.replaceAll('-', '')}${'ab'.repeat(16)}`;

describe('cmdlineFacts', () => {
  it.each([
    ['mount.usr=PARTUUID=', `BOOT_IMAGE=/vmlinuz mount.usr=PARTUUID=${B} rootflags=rw`, { partuuid: B }, `mount.usr=PARTUUID=${B}`],
    ['usr=PARTUUID= (upper case)', `usr=PARTUUID=${A.toUpperCase()} console=ttyS0`, { partuuid: A }, `usr=PARTUUID=${A.toUpperCase()}`],
    ['root=PARTUUID=', `root=PARTUUID=${A} ro quiet`, { partuuid: A }, `root=PARTUUID=${A}`],
    ['root=/dev/disk/by-partuuid/', `root=/dev/disk/by-partuuid/${B}`, { partuuid: B }, `root=/dev/disk/by-partuuid/${B}`],
    ['mount.usr=PARTLABEL=', 'mount.usr=PARTLABEL=USR-B', { partlabel: 'USR-B' }, 'mount.usr=PARTLABEL=USR-B'],
    ['usr=/dev/disk/by-partlabel/', 'usr=/dev/disk/by-partlabel/USR-A', { partlabel: 'USR-A' }, 'usr=/dev/disk/by-partlabel/USR-A'],
    ['root=PARTLABEL= (the OS image\'s GRUB)', 'root=PARTLABEL=USR-A rootfstype=squashfs ro', { partlabel: 'USR-A' }, 'root=PARTLABEL=USR-A'],
    ['Flatcar verity: mount.usr=/dev/mapper/usr verity.usr=PARTUUID=', `mount.usr=/dev/mapper/usr verity.usr=PARTUUID=${B} verity.usrhash=${HASH}`, { partuuid: B }, `verity.usr=PARTUUID=${B}`],
    ['systemd verity: usr=/dev/mapper/usr systemd.verity_usr_data=PARTUUID=', `usr=/dev/mapper/usr systemd.verity_usr_data=PARTUUID=${A} usrhash=${'cd'.repeat(32)}`, { partuuid: A }, `systemd.verity_usr_data=PARTUUID=${A}`],
    ['systemd verity root: systemd.verity_root_data=/dev/disk/by-partuuid/', `root=/dev/mapper/root systemd.verity_root_data=/dev/disk/by-partuuid/${B}`, { partuuid: B }, `systemd.verity_root_data=/dev/disk/by-partuuid/${B}`],
    ['usrhash= alone: the data partition from the hash', `mount.usr=/dev/mapper/usr usrhash=${HASH}`, { partuuid: B }, `usrhash=${HASH.slice(0, 12)}…`],
    ['roothash= alone', `roothash=${HASH}`, { partuuid: B }, `roothash=${HASH.slice(0, 12)}…`],
    ['a quoted parameter before it', `console="ttyS0,115200 n8" usr=PARTUUID=${A}`, { partuuid: A }, `usr=PARTUUID=${A}`],
  ])('%s', (_form, cmdline, ref, source) => {
    expect(cmdlineFacts(cmdline).facts).toContainEqual({ ref, source });
  });

  it('lists parameters that name no partition as unusable, and finds no fact in them', () => {
    expect(cmdlineFacts('root=/dev/sda1 mount.usr=/dev/mapper/usr ro')).toEqual({ facts: [], unusable: ['mount.usr=/dev/mapper/usr', 'root=/dev/sda1'] });
    expect(cmdlineFacts('ro quiet')).toEqual({ facts: [], unusable: [] });
    expect(cmdlineFacts('usrhash=notahash')).toEqual({ facts: [], unusable: ['usrhash=notahash'] });
  });

  it('derives the PARTUUID from the first 128 bits of a verity hash, as systemd-veritysetup-generator does', () => {
    expect(partuuidFromHash(HASH.toUpperCase())).toBe(B);
    expect(partuuidFromHash('ab'.repeat(16))).toBeNull();
  });

  it('parses quoted values and bare flags', () => {
    const parameters = parseCmdline('quiet console="tty0 x" a=b=c');
    expect(parameters.get('quiet')).toBe('');
    expect(parameters.get('console')).toBe('tty0 x');
    expect(parameters.get('a')).toBe('b=c');
  });
});
