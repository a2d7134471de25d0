// ChromeOS/CoreOS boot flags in a GPT entry's attribute field: priority in bits 48-51,
// tries left in 52-55, successful in 56. Other bits are left as they are.

import { SlotError } from './slot-errors.ts';
import type { SlotFlags } from './boot-chooser.ts';

const PRIORITY_SHIFT = 48n;
const TRIES_SHIFT = 52n;
const SUCCESSFUL_SHIFT = 56n;
const NIBBLE = 0xfn;
const FLAG_MASK = (NIBBLE << PRIORITY_SHIFT) | (NIBBLE << TRIES_SHIFT) | (1n << SUCCESSFUL_SHIFT);

export function flagsFromAttributes(attributes: bigint): SlotFlags {
  return {
    priority: Number((attributes >> PRIORITY_SHIFT) & NIBBLE),
    tries: Number((attributes >> TRIES_SHIFT) & NIBBLE),
    successful: ((attributes >> SUCCESSFUL_SHIFT) & 1n) === 1n,
  };
}

export function attributesWithFlags(attributes: bigint, flags: SlotFlags): bigint {
  for (const [name, value] of [['priority', flags.priority], ['tries', flags.tries]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 15) throw new SlotError('ERR_TRIES_OUT_OF_RANGE', `${name} must be 0..15, got ${value}`);
  }
  return (
    (attributes & ~FLAG_MASK) |
    (BigInt(flags.priority) << PRIORITY_SHIFT) |
    (BigInt(flags.tries) << TRIES_SHIFT) |
    ((flags.successful ? 1n : 0n) << SUCCESSFUL_SHIFT)
  );
}
