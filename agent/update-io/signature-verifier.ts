// Checks a detached OpenPGP signature over the exact manifest bytes against the OS keyring at an
// injected time; only a signature that verified by a valid, trusted key counts, never "no error".

import { createMessage, enums, readSignature, verify } from 'openpgp';
import type { PublicKey, Signature, SignaturePacket, Subkey } from 'openpgp';
import { keyringOpenpgpKeys } from './keyring.ts';
import type { Keyring } from './keyring.ts';
import { UpdateError } from '../update/update-errors.ts';
import type { ReleaseVerifier, VerifiedSignature } from '../update/release-verifier.ts';

// SHA-1, MD5 and RIPEMD-160 have practical collisions; SHA-224 is below the SHA-256 floor we sign with.
const STRONG_HASHES: ReadonlySet<number> = new Set([enums.hash.sha256, enums.hash.sha384, enums.hash.sha512, enums.hash.sha3_256, enums.hash.sha3_512]);

export async function verifyDetachedSignature(data: Uint8Array, armoredSignature: string, keyring: Keyring, now: Date): Promise<VerifiedSignature> {
  const keys = keyringOpenpgpKeys(keyring);
  const signature = await readDetached(armoredSignature);
  const packets = [...signature.packets];
  // Verify all packets in one call; openpgp returns one result per signature packet, in order.
  const result = await verify({
    message: await createMessage({ binary: data }),
    signature,
    verificationKeys: [...keys],
    date: now,
    expectSigned: false,
    format: 'binary',
  });
  const failures: UpdateError[] = [];
  for (const [index, packet] of packets.entries()) {
    const verification = result.signatures[index];
    if (verification === undefined) {
      failures.push(new UpdateError('ERR_SIGNATURE_INVALID', `openpgp returned no verification result for signature ${index + 1}`));
      continue;
    }
    const outcome = await checkOne(packet, verification.verified, keys, keyring, now);
    if (!(outcome instanceof UpdateError)) return outcome;
    failures.push(outcome);
  }
  throw mostTelling(failures);
}

async function readDetached(armoredSignature: string): Promise<Signature> {
  if (armoredSignature.trim() === '') {
    throw new UpdateError('ERR_SIGNATURE_INVALID', 'signature is empty');
  }
  // Inline and cleartext messages carry their own data; accepting them would verify bytes other
  // than the manifest we were handed.
  if (armoredSignature.includes('-----BEGIN PGP SIGNED MESSAGE-----')) {
    throw new UpdateError('ERR_SIGNATURE_INVALID', 'signature is a cleartext-signed message, not a detached signature');
  }
  if (armoredSignature.includes('-----BEGIN PGP MESSAGE-----')) {
    throw new UpdateError('ERR_SIGNATURE_INVALID', 'signature is an inline-signed message, not a detached signature');
  }
  let signature: Signature;
  try {
    signature = await readSignature({ armoredSignature });
  } catch (error) {
    throw new UpdateError('ERR_SIGNATURE_INVALID', 'failed to parse detached signature', { cause: error });
  }
  if (signature.packets.length === 0) {
    throw new UpdateError('ERR_SIGNATURE_INVALID', 'detached signature holds no signature packets');
  }
  return signature;
}

async function checkOne(packet: SignaturePacket, verified: Promise<true>, keys: readonly PublicKey[], keyring: Keyring, now: Date): Promise<VerifiedSignature | UpdateError> {
  // Whatever we decide below, the promise must be observed so a rejection is never left unhandled.
  const settled = verified.then(
    (value) => ({ ok: value === true, error: undefined as unknown }),
    (error: unknown) => ({ ok: false, error }),
  );
  const signer = issuerName(packet);
  const key = keys.find((candidate) => candidate.getKeys(packet.issuerKeyID).length > 0);
  if (key === undefined) {
    return new UpdateError('ERR_SIGNATURE_UNKNOWN_KEY', `signature by key ${signer} is not by any key in keyring ${keyring.source} (trusted: ${keyring.fingerprints.join(', ')})`);
  }
  const fingerprint = key.getFingerprint().toUpperCase();
  if (packet.signatureType !== enums.signature.binary) {
    // A text-mode signature normalises line endings, so it would not cover the exact bytes.
    return new UpdateError('ERR_SIGNATURE_INVALID', `signature by key ${fingerprint} is not a binary-document signature (type ${String(packet.signatureType)})`);
  }
  if (packet.hashAlgorithm === null || !STRONG_HASHES.has(packet.hashAlgorithm)) {
    const name = packet.hashAlgorithm === null ? 'unknown' : enums.read(enums.hash, packet.hashAlgorithm).toUpperCase();
    return new UpdateError('ERR_SIGNATURE_WEAK_HASH', `signature by key ${fingerprint} uses the weak hash ${name}; SHA-256 or stronger is required`);
  }
  const status = await keyStatus(key, packet, now);
  if (status !== null) return status;
  const { ok, error } = await settled;
  if (!ok) {
    return new UpdateError('ERR_SIGNATURE_INVALID', `signature by key ${fingerprint} does not verify over the data at ${now.toISOString()}`, { cause: error });
  }
  if (packet.created === null) {
    return new UpdateError('ERR_SIGNATURE_INVALID', `signature by key ${fingerprint} has no creation time`);
  }
  return { fingerprint, created: packet.created };
}

/** Revoked or expired at `now`, for the primary key and the (sub)key that signed; null when valid. */
async function keyStatus(key: PublicKey, packet: SignaturePacket, now: Date): Promise<UpdateError | null> {
  const fingerprint = key.getFingerprint().toUpperCase();
  if (await key.isRevoked(undefined, undefined, now)) {
    return new UpdateError('ERR_SIGNATURE_KEY_REVOKED', `key ${fingerprint} that made the signature is revoked`);
  }
  const subkey = key.subkeys.find((candidate) => candidate.getKeyID().equals(packet.issuerKeyID));
  if (subkey !== undefined && (await subkeyRevoked(key, subkey, now))) {
    return new UpdateError('ERR_SIGNATURE_KEY_REVOKED', `signing subkey ${subkey.getFingerprint().toUpperCase()} of key ${fingerprint} is revoked`);
  }
  const expires = await key.getExpirationTime();
  if (expires instanceof Date && expires.getTime() <= now.getTime()) {
    return new UpdateError('ERR_SIGNATURE_KEY_EXPIRED', `key ${fingerprint} that made the signature expired at ${expires.toISOString()}, before ${now.toISOString()}`);
  }
  if (subkey !== undefined) {
    const subkeyExpires = await subkey.getExpirationTime(now);
    if (subkeyExpires instanceof Date && subkeyExpires.getTime() <= now.getTime()) {
      return new UpdateError('ERR_SIGNATURE_KEY_EXPIRED', `signing subkey ${subkey.getFingerprint().toUpperCase()} of key ${fingerprint} expired at ${subkeyExpires.toISOString()}`);
    }
  }
  if (key.getCreationTime().getTime() > now.getTime()) {
    return new UpdateError('ERR_SIGNATURE_INVALID', `key ${fingerprint} was created after ${now.toISOString()}; is the clock behind?`);
  }
  return null;
}

async function subkeyRevoked(key: PublicKey, subkey: Subkey, now: Date): Promise<boolean> {
  // A null signature asks whether any valid revocation exists; the primary key packet verifies it.
  return subkey.isRevoked(null as unknown as SignaturePacket, key.keyPacket, now);
}

function issuerName(packet: SignaturePacket): string {
  if (packet.issuerFingerprint !== null) {
    return Buffer.from(packet.issuerFingerprint).toString('hex').toUpperCase();
  }
  return packet.issuerKeyID.toHex().toUpperCase();
}

/** With several signatures all failing, a problem with a trusted key says more than an unknown signer. */
function mostTelling(failures: readonly UpdateError[]): UpdateError {
  const trusted = failures.find((failure) => failure.code !== 'ERR_SIGNATURE_UNKNOWN_KEY');
  return trusted ?? failures[0] ?? new UpdateError('ERR_SIGNATURE_INVALID', 'no signature verified');
}

/** The ReleaseVerifier port on openpgp.js and the OS keyring. */
export class OpenpgpReleaseVerifier implements ReleaseVerifier {
  private readonly keyring: Keyring;

  constructor(keyring: Keyring) {
    this.keyring = keyring;
  }

  verify(data: Uint8Array, armoredSignature: string, now: Date): Promise<VerifiedSignature> {
    return verifyDetachedSignature(data, armoredSignature, this.keyring, now);
  }
}
