// Which slot of a disk is running, from facts matched against its slots: never from the boot flags.

import { describe, expect, it } from 'vitest';
import { resolveBootedSlot } from './booted-slot.ts';
import type { BootFacts } from './booted-slot.ts';
import type { SlotState } from './boot-chooser.ts';

const A = '7130c94a-213a-4e5a-8e26-6cce9662f132';
const B = 'e03dd35c-7c2d-4a47-b3fe-27f15780a57c';
const ELSEWHERE = '11111111-2222-3333-4444-555555555555';
// B ranks highest and is good: the old guess would have said B whatever ran.
const slots: SlotState[] = [
  { name: 'USR-A', partuuid: A, partition: 3, priority: 1, tries: 0, successful: true },
  { name: 'USR-B', partuuid: B, partition: 4, priority: 2, tries: 0, successful: true },
];
const facts = (over: Partial<BootFacts>): BootFacts => ({ operator: null, facts: [], looked: ['/proc/cmdline: ro quiet', '/proc/self/mountinfo: / is ext4 on 254:0'], ...over });

describe('resolveBootedSlot', () => {
  it('takes the slot a fact names, by PARTUUID or PARTLABEL', () => {
    expect(resolveBootedSlot(facts({ facts: [{ ref: { partuuid: A }, source: `usr=PARTUUID=${A}` }] }), slots, 'disk.img')).toEqual({ known: true, slot: 'USR-A', source: `usr=PARTUUID=${A}` });
    expect(resolveBootedSlot(facts({ facts: [{ ref: { partlabel: 'USR-A' }, source: 'root=PARTLABEL=USR-A' }] }), slots, 'disk.img')).toMatchObject({ slot: 'USR-A' });
  });

  it('ignores facts about other disks, and agreeing facts are one', () => {
    const both = [
      { ref: { partuuid: ELSEWHERE }, source: 'root=PARTUUID=…' },
      { ref: { partuuid: A }, source: 'mount.usr=…' },
      { ref: { partuuid: A }, source: '/usr is on 259:3' },
    ];
    expect(resolveBootedSlot(facts({ facts: both }), slots, 'disk.img')).toMatchObject({ known: true, slot: 'USR-A' });
  });

  it('takes the operator\'s --booted when nothing says otherwise', () => {
    expect(resolveBootedSlot(facts({ operator: 'USR-A' }), slots, 'disk.img')).toEqual({ known: true, slot: 'USR-A', source: '--booted USR-A' });
  });

  it('without facts says what it looked at and refuses; never the highest-priority good slot', () => {
    const result = resolveBootedSlot(facts({}), slots, 'disk.img');
    expect(result.known).toBe(false);
    if (result.known) return;
    expect(result.error.code).toBe('ERR_BOOTED_SLOT_UNKNOWN');
    expect(result.error.message).toContain('cannot tell which slot of disk.img is running');
    expect(result.error.message).toContain('/proc/cmdline: ro quiet; /proc/self/mountinfo: / is ext4 on 254:0');
    expect(result.error.message).toContain('--booted SLOT');
  });

  it('names the partitions that are not on this disk', () => {
    const result = resolveBootedSlot(facts({ facts: [{ ref: { partuuid: ELSEWHERE }, source: `root=PARTUUID=${ELSEWHERE}` }] }), slots, 'disk.img');
    expect(result).toMatchObject({ known: false, error: { code: 'ERR_BOOTED_SLOT_UNKNOWN', message: expect.stringContaining(`PARTUUID=${ELSEWHERE} is not among its slots (USR-A=PARTUUID=${A}`) as unknown } });
  });

  it('refuses when facts disagree, or --booted contradicts one', () => {
    const disagree = [
      { ref: { partuuid: A }, source: 'mount.usr=PARTUUID=A' },
      { ref: { partuuid: B }, source: '/usr is on 259:4' },
    ];
    expect(resolveBootedSlot(facts({ facts: disagree }), slots, 'disk.img')).toMatchObject({ known: false, error: { code: 'ERR_BOOTED_SLOT_CONFLICT', message: expect.stringContaining('mount.usr=PARTUUID=A is USR-A; /usr is on 259:4 is USR-B') as unknown } });
    expect(resolveBootedSlot(facts({ operator: 'USR-B', facts: [disagree[0]!] }), slots, 'disk.img')).toMatchObject({ known: false, error: { code: 'ERR_BOOTED_SLOT_CONFLICT', message: expect.stringContaining('--booted USR-B contradicts') as unknown } });
  });
});
