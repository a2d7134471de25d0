// Finds the two A/B slots in a partition table: the partitions of the CoreOS usr type,
// which must be exactly two, named USR-A and USR-B.

import { COREOS_USR_TYPE } from '../../platform/guid.ts';
import { SlotError } from './slot-errors.ts';
import { isSlotName } from './boot-chooser.ts';
import type { SlotName } from './boot-chooser.ts';
import type { GptEntry } from './gpt-format.ts';

export interface UsrSlot {
  readonly name: SlotName;
  readonly entry: GptEntry;
}

/** The slots in table order (GRUB's gptprio walks the table in that order). */
export function findUsrSlots(entries: readonly GptEntry[], devicePath: string): UsrSlot[] {
  const usr = entries.filter((entry) => entry.typeGuid === COREOS_USR_TYPE);
  const describe = (): string => usr.map((e) => `${e.index + 1} ${e.name || '(unnamed)'}`).join(', ');
  if (usr.length === 0) {
    throw new SlotError('ERR_SLOTS_MISSING', `no partitions of the CoreOS usr type (${COREOS_USR_TYPE}) on ${devicePath}`);
  }
  const names = usr.map((e) => e.name);
  if (usr.length !== 2 || !names.every(isSlotName) || names[0] === names[1]) {
    throw new SlotError(
      'ERR_SLOTS_AMBIGUOUS',
      `expected exactly two partitions of the CoreOS usr type on ${devicePath}, named USR-A and USR-B; found ${usr.length}: ${describe()}`,
    );
  }
  return usr.map((entry) => ({ name: entry.name as SlotName, entry }));
}
