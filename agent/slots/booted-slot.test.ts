// Finding the booted slot from the kernel command line.

import { describe, expect, it } from 'vitest';
import { bootedSlotFromCmdline, parseCmdline } from './booted-slot.ts';
import type { SlotState } from './boot-chooser.ts';

const A = '7130c94a-213a-4e5a-8e26-6cce9662f132';
const B = 'e03dd35c-7c2d-4a47-b3fe-27f15780a57c';
const slots: SlotState[] = [
  { name: 'USR-A', partuuid: A, partition: 3, priority: 1, tries: 0, successful: true },
  { name: 'USR-B', partuuid: B, partition: 4, priority: 2, tries: 1, successful: false },
];

describe('bootedSlotFromCmdline', () => {
  it.each([
    [`BOOT_IMAGE=/vmlinuz mount.usr=PARTUUID=${B} rootflags=rw`, 'USR-B'],
    [`usr=PARTUUID=${A.toUpperCase()} console=ttyS0`, 'USR-A'],
    [`mount.usr=/dev/mapper/usr verity.usr=PARTUUID=${B}`, 'USR-B'],
    [`root=PARTUUID=${A} ro quiet`, 'USR-A'],
    [`root=/dev/disk/by-partuuid/${B}`, 'USR-B'],
    ['mount.usr=PARTLABEL=USR-B', 'USR-B'],
    [`console="ttyS0,115200 n8" usr=PARTUUID=${A}`, 'USR-A'],
  ])('%s -> %s', (cmdline, expected) => {
    expect(bootedSlotFromCmdline(cmdline, slots)).toBe(expected);
  });

  it('says what it looked for when no slot matches', () => {
    expect(() => bootedSlotFromCmdline('root=/dev/sda1 ro', slots)).toThrow(
      expect.objectContaining({ code: 'ERR_BOOTED_SLOT_UNKNOWN', message: expect.stringContaining('root=/dev/sda1') as unknown }),
    );
    expect(() => bootedSlotFromCmdline(`usr=PARTUUID=${'0'.repeat(8)}-0000-0000-0000-000000000000`, slots)).toThrow(
      expect.objectContaining({ code: 'ERR_BOOTED_SLOT_UNKNOWN' }),
    );
  });

  it('parses quoted values and bare flags', () => {
    const parameters = parseCmdline('quiet console="tty0 x" a=b=c');
    expect(parameters.get('quiet')).toBe('');
    expect(parameters.get('console')).toBe('tty0 x');
    expect(parameters.get('a')).toBe('b=c');
  });
});
