// Error classes of the slot engine: a stable code for each failure and the cause chain kept.

import { CodedError } from '../../platform/coded-error.ts';

export type SlotErrorCode =
  | 'ERR_DEVICE_IO'
  | 'ERR_NOT_GPT'
  | 'ERR_GPT_CORRUPT'
  | 'ERR_GPT_TRUNCATED'
  | 'ERR_SLOTS_MISSING'
  | 'ERR_SLOTS_AMBIGUOUS'
  | 'ERR_SLOT_UNKNOWN'
  | 'ERR_ROLLBACK_TARGET_NOT_GOOD'
  | 'ERR_TRIES_OUT_OF_RANGE'
  | 'ERR_GRUBENV_INVALID'
  | 'ERR_CHOOSER_INVALID'
  | 'ERR_BOOTED_SLOT_UNKNOWN'
  | 'ERR_BOOTED_SLOT_CONFLICT'
  | 'ERR_SLOT_BOOTED';

export class SlotError extends CodedError<SlotErrorCode> {
  override name = 'SlotError';
}
