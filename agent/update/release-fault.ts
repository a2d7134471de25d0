// Who is to blame for a failed update pass, by error code: the release (charged to its version, which
// is skipped after MAX_FAILURES_PER_VERSION), the way to it (network, mirror: backed off, never
// charged), content that may have been spoiled on the way (fetched once more before it is blamed),
// or this host (keyring, disk, state: never charged). The one place that decides it.

/**
 * - `release`: the release itself is bad (bad signature under a trusted key, payload larger or other
 *   than signed): charged to the version being fetched.
 * - `suspect-content`: the bytes did not decompress or hash right; a mirror may have spoiled them.
 *   Fetched once more (from the next mirror) before it is charged as `release`.
 * - `transport`: DNS, refused, reset, timeouts, HTTP 5xx and 429, any HTTP status, mirror misbehaving: backed off.
 * - `host`: this host cannot judge or hold the release (keyring, clock, policy, disk, state): not charged.
 */
export type FaultKind = 'release' | 'suspect-content' | 'transport' | 'host';

const BY_CODE: Readonly<Record<string, FaultKind>> = {
  // A signature that does not verify under a key the keyring trusts, or made with a hash refused as weak.
  ERR_SIGNATURE_INVALID: 'release',
  ERR_SIGNATURE_WEAK_HASH: 'release',
  // More bytes than the signed manifest declares, or an image that cannot fit any slot of this layout.
  ERR_PAYLOAD_TOO_LARGE: 'release',
  ERR_SLOT_TOO_SMALL: 'release',
  // The image hashed as signed, but its dm-verity tree does not match the signed root hash: the publisher's.
  ERR_VERITY_MISMATCH: 'release',
  // Frames that do not decompress, decompress short, or hash other than signed.
  ERR_PAYLOAD_CORRUPT: 'suspect-content',
  ERR_PAYLOAD_SIZE_MISMATCH: 'suspect-content',
  ERR_PAYLOAD_HASH_MISMATCH: 'suspect-content',
  ERR_HTTP: 'transport',
  ERR_HTTP_TIMEOUT: 'transport',
  ERR_HTTP_TOO_LARGE: 'transport',
  ERR_HTTP_REDIRECT_REFUSED: 'transport',
  ERR_TRANSFER_TOO_SLOW: 'transport',
  // The fleet store (the circuit breaker's memory) in etcd could not be read: nothing is downloaded.
  ERR_FLEET_UNREACHABLE: 'transport',
};

/** Anything not listed (keyring, unknown signer, clock, manifest policy, slot re-read, state, unknown) is the host's. */
export function faultKind(code: string): FaultKind {
  return BY_CODE[code] ?? 'host';
}

/** Whether a failure with this code, after content was fetched `contentTries` times, is charged to the release. */
export function chargedToRelease(code: string, contentTries: number): boolean {
  const kind = faultKind(code);
  return kind === 'release' || (kind === 'suspect-content' && contentTries >= 2);
}
