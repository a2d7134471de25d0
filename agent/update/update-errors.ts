// Error classes of the update path: a stable code for each failure, the cause chain kept.

import { CodedError } from '../../platform/coded-error.ts';

export type UpdateErrorCode =
  // keys and signatures
  | 'ERR_KEYRING_MISSING'
  | 'ERR_KEYRING_EMPTY'
  | 'ERR_KEYRING_INVALID'
  | 'ERR_SIGNATURE_INVALID'
  | 'ERR_SIGNATURE_UNKNOWN_KEY'
  | 'ERR_SIGNATURE_KEY_EXPIRED'
  | 'ERR_SIGNATURE_KEY_REVOKED'
  | 'ERR_SIGNATURE_WEAK_HASH'
  // the manifest and the policy
  | 'ERR_MANIFEST_INVALID'
  | 'ERR_MANIFEST_EXPIRED'
  /** A signed `created` further ahead of this host's clock than update.max_clock_skew. */
  | 'ERR_MANIFEST_FROM_FUTURE'
  | 'ERR_MANIFEST_WRONG_CHANNEL'
  | 'ERR_MANIFEST_WRONG_ARCH'
  | 'ERR_DOWNGRADE_REFUSED'
  | 'ERR_CLOCK_BEHIND'
  /** A release rolls out in waves and /etc/machine-id is empty: this host's place in it cannot be told. */
  | 'ERR_MACHINE_ID_MISSING'
  // transport
  | 'ERR_HTTP'
  | 'ERR_HTTP_TOO_LARGE'
  | 'ERR_HTTP_REDIRECT_REFUSED'
  | 'ERR_HTTP_TIMEOUT'
  /** Fewer bytes than update.min_rate asks came within an update.rate_window (a drip). */
  | 'ERR_TRANSFER_TOO_SLOW'
  // payload
  | 'ERR_PAYLOAD_TOO_LARGE'
  | 'ERR_PAYLOAD_SIZE_MISMATCH'
  | 'ERR_PAYLOAD_HASH_MISMATCH'
  /** A zstd frame that does not decompress. */
  | 'ERR_PAYLOAD_CORRUPT'
  | 'ERR_SLOT_TOO_SMALL'
  /** A server answered a Range request with the whole file: a delta update takes the full download instead. */
  | 'ERR_RANGE_UNSUPPORTED'
  | 'ERR_SLOT_VERIFY_FAILED'
  /** The slot's dm-verity tree is not the tree of its data under the signed root hash (`slipway verify`: or the recorded one). */
  | 'ERR_VERITY_MISMATCH'
  // state
  | 'ERR_STATE_INVALID'
  /** The update record could not be written durably (a read-only or full state directory). */
  | 'ERR_STATE_WRITE'
  /** An event the update state machine does not take in its state: a bug in the caller. */
  | 'ERR_ILLEGAL_TRANSITION'
  /** The running boot has not passed its health gate: no update may start before it does. */
  | 'ERR_NOT_CONFIRMED'
  /** `slipway unskip` of a version that is not skipped. */
  | 'ERR_NOT_SKIPPED';

export class UpdateError extends CodedError<UpdateErrorCode> {
  override name = 'UpdateError';
}
