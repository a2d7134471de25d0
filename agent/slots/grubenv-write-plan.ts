// Orders the in-place writes of a GRUB environment change so that a power cut after any write, or
// inside one, still boots the old choice or the new one. Each changed value is its own write; a
// one-byte value cannot tear, and ORDER's three bytes can only tear into "B B"/"A A", which GRUB's
// fallback walk reads as a full order.

import { InternalError } from '../../platform/internal-error.ts';
import { grubenvNext } from './grubenv-state.ts';
import { STATE_KEYS } from '../../platform/grub/grubenv-flags.ts';
import type { SlotName } from './boot-chooser.ts';
import type { GrubenvState, StateKey } from '../../platform/grub/grubenv-flags.ts';

export interface PlannedWrite {
  readonly key: StateKey;
  readonly value: string;
}

/** The boot rule a plan must respect; grubenvNext, or another rule under test. */
export type NextBoot = (state: GrubenvState) => SlotName | null;

/**
 * Every value a write of `value` over `old` can leave when cut: any mix of old and new bytes, not
 * only a prefix, because the disk need not persist the bytes of one write in order.
 */
export function tornValues(old: string, value: string): string[] {
  const mixes = new Set<string>();
  for (let mask = 0; mask < 1 << value.length; mask++) {
    mixes.add(Array.from(value, (c, i) => (mask & (1 << i) ? c : (old[i] ?? ''))).join(''));
  }
  return [...mixes];
}

/** Every state a power cut can leave while applying `writes` in order to `from` (each write fsynced). */
export function reachableStates(from: GrubenvState, writes: readonly PlannedWrite[]): GrubenvState[] {
  const states: GrubenvState[] = [from];
  let current = from;
  for (const write of writes) {
    for (const torn of tornValues(current[write.key], write.value)) states.push({ ...current, [write.key]: torn });
    current = { ...current, [write.key]: write.value };
  }
  return states;
}

function* permutations<T>(items: readonly T[]): Generator<T[]> {
  if (items.length <= 1) {
    yield [...items];
    return;
  }
  for (let i = 0; i < items.length; i++) {
    const rest = [...items.slice(0, i), ...items.slice(i + 1)];
    for (const tail of permutations(rest)) yield [items[i] as T, ...tail];
  }
}

/** Whether a power cut anywhere in `writes` boots only the old or the new choice. */
export function isCrashSafe(from: GrubenvState, to: GrubenvState, writes: readonly PlannedWrite[], next: NextBoot = grubenvNext): boolean {
  const allowed = new Set([next(from), next(to)]);
  // Nothing bootable is acceptable only as the intended result (marking the last bootable slot unbootable).
  const mustBoot = next(from) !== null && next(to) !== null;
  return reachableStates(from, writes).every((state) => {
    const choice = next(state);
    return allowed.has(choice) && (choice !== null || !mustBoot);
  });
}

/**
 * A write order, one write per changed value, under which every reachable state boots the old or
 * the new choice, and boots something whenever both the old and the new state do. Tries every
 * order of the at most five writes; throws if none is safe, which no pair of valid states needs
 * (the unit tests check all of them).
 */
export function planWrites(from: GrubenvState, to: GrubenvState, next: NextBoot = grubenvNext): PlannedWrite[] {
  const changed = STATE_KEYS.filter((key) => from[key] !== to[key]).map((key) => ({ key, value: to[key] }));
  for (const order of permutations(changed)) if (isCrashSafe(from, to, order, next)) return order;
  throw new InternalError(`no crash-safe write order for the GRUB environment from ${JSON.stringify(from)} to ${JSON.stringify(to)}`);
}
