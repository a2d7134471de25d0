// The SlotHashStore port: where each slot's dm-verity root hash is recorded for the boot path to read
// (outside both slots: a slot never vouches for itself), and how it is cleared and recorded.

import type { SlotName } from './boot-chooser.ts';
import type { RecordedVerity } from '../../platform/grub/grubenv-verity.ts';

export type { RecordedVerity };

export interface SlotHashStore {
  /** Where the hashes live, for messages. */
  readonly path: string;
  /** Each slot's recorded root hash and hash offset; null when none is recorded. */
  read(): Promise<Record<SlotName, RecordedVerity | null>>;
  /**
   * Records `verity` for `slot`, or clears it with null. Only while the slot is unbootable: the
   * update path clears it before the slot's first byte is written and records it from the verified
   * manifest after the slot's tree checked, before the slot is staged.
   */
  write(slot: SlotName, verity: RecordedVerity | null): Promise<void>;
}
