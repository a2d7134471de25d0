// Pure A/B boot rules shared by every boot chooser: GRUB gptprio's next-boot choice, cgpt's
// prioritize, and the stage / mark-good / mark-unbootable / rollback transitions.

import { SlotError } from './slot-errors.ts';
import type { SlotFlags, SlotName } from './boot-chooser.ts';

export const MAX_PRIORITY = 15;
export const MAX_TRIES = 15;

export interface RuleSlot extends SlotFlags {
  readonly name: SlotName;
}

/**
 * GRUB gptprio.next: walk the slots in table order and keep the first one with the highest
 * priority among those that are successful or have tries left. Priority 0 never boots.
 */
export function chooseNext(slots: readonly RuleSlot[]): SlotName | null {
  let found: RuleSlot | null = null;
  for (const slot of slots) {
    const bootable = slot.tries > 0 || slot.successful;
    if (bootable && slot.priority > (found?.priority ?? 0)) found = slot;
  }
  return found?.name ?? null;
}

/** What GRUB does at boot: choose, and spend one try of the chosen slot if it has any. */
export function simulateBoot<T extends RuleSlot>(slots: readonly T[]): { booted: SlotName | null; slots: T[] } {
  const booted = chooseNext(slots);
  const after = slots.map((slot) => (slot.name === booted && slot.tries > 0 ? { ...slot, tries: slot.tries - 1 } : slot));
  return { booted, slots: after };
}

/**
 * cgpt prioritize with -P defaulting to the highest priority in use: the chosen slot goes on top,
 * the other bootable-priority slots keep their relative order (equal priorities stay equal) below
 * it, coalescing at 1 if they run out of room; slots at priority 0 stay at 0.
 */
export function prioritize<T extends RuleSlot>(slots: readonly T[], chosen: SlotName): T[] {
  const others = slots.filter((s) => s.name !== chosen && s.priority > 0).sort((a, b) => b.priority - a.priority);
  const groups: number[] = [];
  for (const slot of others) if (groups.at(-1) !== slot.priority) groups.push(slot.priority);
  const highestInUse = Math.max(0, ...slots.map((s) => s.priority));
  const top = Math.min(MAX_PRIORITY, Math.max(highestInUse, groups.length + 1));
  const newPriority = new Map<SlotName, number>([[chosen, top]]);
  for (const slot of others) newPriority.set(slot.name, Math.max(1, top - 1 - groups.indexOf(slot.priority)));
  return slots.map((s) => ({ ...s, priority: newPriority.get(s.name) ?? s.priority }));
}

function requireSlot(slots: readonly RuleSlot[], name: SlotName): RuleSlot {
  const slot = slots.find((s) => s.name === name);
  if (!slot) throw new SlotError('ERR_SLOT_UNKNOWN', `no slot named ${name}`);
  return slot;
}

function withFlags<T extends RuleSlot>(slots: readonly T[], name: SlotName, flags: Partial<SlotFlags>): T[] {
  return slots.map((s) => (s.name === name ? { ...s, ...flags } : s));
}

export function stageSlot<T extends RuleSlot>(slots: readonly T[], name: SlotName, tries: number): T[] {
  requireSlot(slots, name);
  if (!Number.isInteger(tries) || tries < 1 || tries > MAX_TRIES) {
    throw new SlotError('ERR_TRIES_OUT_OF_RANGE', `tries must be a whole number from 1 to ${MAX_TRIES}, got ${tries}`);
  }
  return prioritize(withFlags(slots, name, { successful: false, tries }), name);
}

export function markSlotGood<T extends RuleSlot>(slots: readonly T[], name: SlotName): T[] {
  requireSlot(slots, name);
  return prioritize(withFlags(slots, name, { successful: true, tries: 0 }), name);
}

export function markSlotUnbootable<T extends RuleSlot>(slots: readonly T[], name: SlotName): T[] {
  requireSlot(slots, name);
  return withFlags(slots, name, { priority: 0, tries: 0, successful: false });
}

/** Point the next boot at the slot other than `booted`, which must have been marked successful. */
export function rollbackFrom<T extends RuleSlot>(slots: readonly T[], booted: SlotName): T[] {
  requireSlot(slots, booted);
  const target = slots.find((s) => s.name !== booted);
  if (!target) throw new SlotError('ERR_SLOT_UNKNOWN', `no slot other than ${booted} to roll back to`);
  if (!target.successful) {
    throw new SlotError(
      'ERR_ROLLBACK_TARGET_NOT_GOOD',
      `cannot roll back to ${target.name}: it was never marked successful, so it may not boot`,
    );
  }
  return prioritize(slots, target.name);
}
