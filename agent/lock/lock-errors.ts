// Error classes of reboot coordination: a stable code for each failure, the cause chain kept.

import { CodedError } from '../../platform/coded-error.ts';

export type LockErrorCode = 'ERR_LOCK_CORRUPT' | 'ERR_LOCK_INVALID_MAX' | 'ERR_LOCK_CONFIG_INVALID' | 'ERR_LOCK_UNCONFIRMED' | 'ERR_WINDOW_INVALID';

export class LockError extends CodedError<LockErrorCode> {
  override name = 'LockError';
}
