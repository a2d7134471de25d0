// Orders the in-place writes of a GRUB environment change so that a power cut after any write, or
// inside one, still boots the old choice or the new one. Each changed value is its own write; a
// one-byte value cannot tear, and ORDER's three bytes can only tear into "B B"/"A A", which GRUB's
// fallback walk reads as a full order.

import { grubenvNext, STATE_KEYS } from './grubenv-state.ts';
import type { GrubenvState, StateKey } from './grubenv-state.ts';

export interface PlannedWrite {
  readonly key: StateKey;
  readonly value: string;
}

/** Every state a write of `value` over `old` can leave: each byte prefix of the new value. */
function tearsOf(old: string, value: string): string[] {
  return Array.from({ length: value.length + 1 }, (_, n) => value.slice(0, n) + old.slice(n));
}

/** Every state a power cut can leave while applying `writes` in order to `from`. */
export function reachableStates(from: GrubenvState, writes: readonly PlannedWrite[]): GrubenvState[] {
  const states: GrubenvState[] = [from];
  let current = from;
  for (const write of writes) {
    for (const torn of tearsOf(current[write.key], write.value)) states.push({ ...current, [write.key]: torn });
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

/**
 * A write order under which every reachable state boots the old or the new choice, and boots
 * something whenever both the old and the new state do. Throws if none exists (none of our transitions needs it).
 */
export function planWrites(from: GrubenvState, to: GrubenvState): PlannedWrite[] {
  const changed = STATE_KEYS.filter((key) => from[key] !== to[key]).map((key) => ({ key, value: to[key] }));
  const allowed = new Set([grubenvNext(from), grubenvNext(to)]);
  // Nothing bootable is acceptable only as the intended result (marking the last bootable slot unbootable).
  const mustBoot = grubenvNext(from) !== null && grubenvNext(to) !== null;
  for (const order of permutations(changed)) {
    const safe = reachableStates(from, order).every((state) => {
      const next = grubenvNext(state);
      return allowed.has(next) && (next !== null || !mustBoot);
    });
    if (safe) return order;
  }
  throw new Error(`no crash-safe write order from ${JSON.stringify(from)} to ${JSON.stringify(to)}`);
}
