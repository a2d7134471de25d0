// The next-boot choice and the slot transitions, checked against a table written from GRUB's
// gptprio.c and cgpt's prioritize.

import { describe, expect, it } from 'vitest';
import { chooseNext, markSlotGood, markSlotUnbootable, prioritize, rollbackFrom, simulateBoot, stageSlot } from './slot-rules.ts';
import type { RuleSlot } from './slot-rules.ts';

const slot = (name: 'USR-A' | 'USR-B', priority: number, tries: number, successful: boolean): RuleSlot => ({ name, priority, tries, successful });

describe('chooseNext follows gptprio.next', () => {
  const cases: [string, RuleSlot[], string | null][] = [
    ['higher priority wins', [slot('USR-A', 1, 0, true), slot('USR-B', 2, 0, true)], 'USR-B'],
    ['equal priority: first in table order wins', [slot('USR-A', 2, 0, true), slot('USR-B', 2, 0, true)], 'USR-A'],
    ['equal priority, B first in the table', [slot('USR-B', 2, 0, true), slot('USR-A', 2, 0, true)], 'USR-B'],
    ['tries left makes an unconfirmed slot bootable', [slot('USR-A', 1, 0, true), slot('USR-B', 2, 1, false)], 'USR-B'],
    ['no tries and not successful is skipped', [slot('USR-A', 1, 0, true), slot('USR-B', 2, 0, false)], 'USR-A'],
    ['priority 0 never boots, even when successful', [slot('USR-A', 0, 0, true), slot('USR-B', 0, 3, false)], null],
    ['priority 0 loses to any bootable priority', [slot('USR-A', 0, 5, true), slot('USR-B', 1, 0, true)], 'USR-B'],
    ['both unbootable: nothing', [slot('USR-A', 1, 0, false), slot('USR-B', 2, 0, false)], null],
    ['successful with tries left is bootable', [slot('USR-A', 3, 2, true), slot('USR-B', 2, 0, true)], 'USR-A'],
    ['max priority 15', [slot('USR-A', 15, 0, true), slot('USR-B', 14, 1, false)], 'USR-A'],
  ];
  it.each(cases)('%s', (_name, slots, expected) => {
    expect(chooseNext(slots)).toBe(expected);
  });
});

describe('simulateBoot spends a try like GRUB', () => {
  it('decrements the chosen slot and falls back once the tries are gone', () => {
    const staged = [slot('USR-A', 1, 0, true), slot('USR-B', 2, 2, false)];
    const first = simulateBoot(staged);
    expect(first.booted).toBe('USR-B');
    expect(first.slots[1]?.tries).toBe(1);
    const second = simulateBoot(first.slots);
    expect(second.booted).toBe('USR-B');
    expect(second.slots[1]?.tries).toBe(0);
    expect(simulateBoot(second.slots).booted).toBe('USR-A');
  });

  it('leaves a successful slot without tries unchanged', () => {
    const slots = [slot('USR-A', 2, 0, true), slot('USR-B', 1, 0, true)];
    expect(simulateBoot(slots).slots).toEqual(slots);
  });
});

describe('prioritize follows cgpt', () => {
  it('puts the chosen slot on top and keeps the others below in order', () => {
    expect(prioritize([slot('USR-A', 2, 0, true), slot('USR-B', 1, 0, true)], 'USR-B').map((s) => s.priority)).toEqual([1, 2]);
  });
  it('is stable when the chosen slot is already alone on top', () => {
    const slots = [slot('USR-A', 2, 0, true), slot('USR-B', 1, 0, true)];
    expect(prioritize(slots, 'USR-A')).toEqual(slots);
  });
  it('breaks a tie in favour of the chosen slot', () => {
    expect(prioritize([slot('USR-A', 2, 0, true), slot('USR-B', 2, 0, true)], 'USR-B').map((s) => s.priority)).toEqual([1, 2]);
  });
  it('leaves a priority-0 slot at 0 and gives the chosen one at least 1', () => {
    expect(prioritize([slot('USR-A', 0, 0, true), slot('USR-B', 0, 1, false)], 'USR-B').map((s) => s.priority)).toEqual([0, 1]);
  });
  it('keeps priorities within 1..15', () => {
    expect(prioritize([slot('USR-A', 15, 0, true), slot('USR-B', 15, 0, true)], 'USR-B').map((s) => s.priority)).toEqual([14, 15]);
  });
});

describe('transitions', () => {
  const fresh = [slot('USR-A', 1, 0, true), slot('USR-B', 0, 0, false)];

  it('stage: successful=0, tries=N, on top', () => {
    expect(stageSlot(fresh, 'USR-B', 3)).toEqual([slot('USR-A', 1, 0, true), slot('USR-B', 2, 3, false)]);
  });
  it('stage refuses tries outside 1..15', () => {
    expect(() => stageSlot(fresh, 'USR-B', 0)).toThrow(expect.objectContaining({ code: 'ERR_TRIES_OUT_OF_RANGE' }));
    expect(() => stageSlot(fresh, 'USR-B', 16)).toThrow(expect.objectContaining({ code: 'ERR_TRIES_OUT_OF_RANGE' }));
  });
  it('mark good: successful=1, tries=0, on top', () => {
    const staged = stageSlot(fresh, 'USR-B', 1);
    expect(markSlotGood(staged, 'USR-B')).toEqual([slot('USR-A', 1, 0, true), slot('USR-B', 2, 0, true)]);
  });
  it('mark unbootable: everything 0', () => {
    expect(markSlotUnbootable([slot('USR-A', 2, 0, true), slot('USR-B', 1, 0, true)], 'USR-B')).toEqual([
      slot('USR-A', 2, 0, true),
      slot('USR-B', 0, 0, false),
    ]);
  });
  it('rollback makes the successful other slot next', () => {
    const both = [slot('USR-A', 1, 0, true), slot('USR-B', 2, 0, true)];
    expect(chooseNext(rollbackFrom(both, 'USR-B'))).toBe('USR-A');
  });
  it('rollback refuses a slot that was never marked successful', () => {
    const staged = [slot('USR-A', 2, 0, true), slot('USR-B', 1, 1, false)];
    expect(() => rollbackFrom(staged, 'USR-A')).toThrow(expect.objectContaining({ code: 'ERR_ROLLBACK_TARGET_NOT_GOOD' }));
  });
});
