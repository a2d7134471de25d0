// Error classes of reboot coordination: a stable code for each failure, the cause chain kept.

import { CodedError } from '../../platform/coded-error.ts';

export type LockErrorCode =
  | 'ERR_LOCK_CORRUPT'
  | 'ERR_LOCK_INVALID_MAX'
  | 'ERR_LOCK_CONFIG_INVALID'
  | 'ERR_LOCK_UNCONFIRMED'
  /** etcd could not be reached at any endpoint, or did not do what was asked (no leader, a timeout). */
  | 'ERR_LOCK_UNAVAILABLE'
  /** etcd refused the username and password, or the user's permissions. */
  | 'ERR_LOCK_DENIED'
  /** The semaphore changed under every compare-and-swap round: too many writers at once. */
  | 'ERR_LOCK_CONTENDED'
  | 'ERR_WINDOW_INVALID';

export class LockError extends CodedError<LockErrorCode> {
  override name = 'LockError';
}
