// locksmith's reboot semaphore, as pure rules over its JSON value: {"semaphore":N,"max":M,
// "holders":[…]} with holders sorted. Lock and unlock are idempotent per holder id; set-max shifts
// the free count by the change in max. The etcd adapter applies these under compare-and-swap.

import { LockError } from './lock-errors.ts';

export interface Semaphore {
  /** Free places: max minus the number of holders (negative after max was lowered below it). */
  readonly semaphore: number;
  readonly max: number;
  /** Sorted, as locksmith keeps them. */
  readonly holders: readonly string[];
}

export type LockOutcome =
  | { readonly kind: 'acquired'; readonly next: Semaphore }
  | { readonly kind: 'already-held'; readonly next: Semaphore }
  | { readonly kind: 'full'; readonly holders: readonly string[] };

export type UnlockOutcome = { readonly kind: 'released'; readonly next: Semaphore } | { readonly kind: 'not-held' };

export function emptySemaphore(max = 1): Semaphore {
  return { semaphore: max, max, holders: [] };
}

/** The exact bytes locksmith writes, field order included. */
export function serializeSemaphore(s: Semaphore): string {
  return JSON.stringify({ semaphore: s.semaphore, max: s.max, holders: [...s.holders] });
}

/** Parses a stored value; anything locksmith would not have written is reported, never repaired. */
export function parseSemaphore(text: string, key: string): Semaphore {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new LockError('ERR_LOCK_CORRUPT', `value of ${key} is not JSON: ${JSON.stringify(text.slice(0, 80))}`, { cause });
  }
  const v = value as Record<string, unknown> | null;
  if (typeof v !== 'object' || v === null) throw new LockError('ERR_LOCK_CORRUPT', `value of ${key} is not a JSON object`);
  if (!Number.isInteger(v.semaphore) || !Number.isInteger(v.max) || (v.max as number) < 0) {
    throw new LockError('ERR_LOCK_CORRUPT', `value of ${key} lacks whole-number "semaphore" and "max"`);
  }
  // Go's locksmith writes a nil holder list as null.
  const holders = v.holders === null ? [] : v.holders;
  if (!Array.isArray(holders) || !holders.every((h) => typeof h === 'string' && h !== '')) {
    throw new LockError('ERR_LOCK_CORRUPT', `value of ${key} has "holders" that are not a list of ids`);
  }
  if (new Set(holders).size !== holders.length) throw new LockError('ERR_LOCK_CORRUPT', `value of ${key} lists a holder twice`);
  if ((v.semaphore as number) !== (v.max as number) - holders.length) {
    throw new LockError('ERR_LOCK_CORRUPT', `value of ${key} is inconsistent: semaphore ${String(v.semaphore)} with max ${String(v.max)} and ${holders.length} holders`);
  }
  return { semaphore: v.semaphore as number, max: v.max as number, holders: [...(holders as string[])].sort() };
}

export function lock(s: Semaphore, holder: string): LockOutcome {
  if (s.holders.includes(holder)) return { kind: 'already-held', next: s };
  if (s.semaphore <= 0) return { kind: 'full', holders: s.holders };
  return { kind: 'acquired', next: { ...s, semaphore: s.semaphore - 1, holders: [...s.holders, holder].sort() } };
}

export function unlock(s: Semaphore, holder: string): UnlockOutcome {
  if (!s.holders.includes(holder)) return { kind: 'not-held' };
  return { kind: 'released', next: { ...s, semaphore: s.semaphore + 1, holders: s.holders.filter((h) => h !== holder) } };
}

/** locksmithctl set-max: the free count moves with max, so current holders keep their places. */
export function setMax(s: Semaphore, max: number): Semaphore {
  if (!Number.isInteger(max) || max < 0) throw new LockError('ERR_LOCK_INVALID_MAX', `max must be a whole number of 0 or more, got ${max}`);
  return { ...s, max, semaphore: s.semaphore + (max - s.max) };
}
