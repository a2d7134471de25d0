// The publisher's release signing key: generating it, signing manifests with it (detached, SHA-256+),
// and writing the pair so the private half stays owner-only and the public half ships as the OS keyring.

import { InternalError } from '../platform/internal-error.ts';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { createMessage, enums, generateKey, readPrivateKey, sign } from 'openpgp';

export interface SigningKeyPair {
  readonly privateArmored: string;
  readonly publicArmored: string;
  /** Upper-case hex, as gpg prints it. */
  readonly fingerprint: string;
}

export interface GenerateSigningKeyOptions {
  readonly name: string;
  readonly email: string;
  readonly now: Date;
  /** Omitted: the key does not expire. */
  readonly expiresInSeconds?: number;
}

export async function generateSigningKey(options: GenerateSigningKeyOptions): Promise<SigningKeyPair> {
  // EdDSA in the legacy (v4, algorithm 22) encoding: openpgp v6's default `curve25519` type makes
  // RFC 9580 Ed25519 keys that GnuPG 2.2/2.4 cannot read, and operators check releases with gpg.
  const { privateKey, publicKey } = await generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    userIDs: [{ name: options.name, email: options.email }],
    date: options.now,
    format: 'object',
    ...(options.expiresInSeconds === undefined ? {} : { keyExpirationTime: options.expiresInSeconds }),
  });
  return {
    privateArmored: privateKey.armor(),
    publicArmored: publicKey.armor(),
    fingerprint: publicKey.getFingerprint().toUpperCase(),
  };
}

/** A detached, armored signature over exactly `data` (binary mode: no line-ending normalisation). */
export async function signDetached(data: Uint8Array, privateKeyArmored: string, now: Date): Promise<string> {
  const signingKey = await readPrivateKey({ armoredKey: privateKeyArmored });
  // openpgp's return type depends on stream typings absent here (no DOM lib), so it is checked.
  const signature: unknown = await sign({
    message: await createMessage({ binary: data }),
    signingKeys: signingKey,
    detached: true,
    date: now,
    format: 'armored',
    // Agents refuse anything weaker than SHA-256; SHA-512 is also what Ed25519 itself uses.
    config: { preferredHashAlgorithm: enums.hash.sha512 },
  });
  if (typeof signature !== 'string') throw new InternalError('openpgp returned a non-string armored signature');
  return signature;
}

export async function writeKeyPair(dir: string, pair: SigningKeyPair): Promise<{ privatePath: string; publicPath: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const privatePath = join(dir, 'signing-key.asc');
  const publicPath = join(dir, 'keyring.asc');
  await writeWithMode(privatePath, pair.privateArmored, 0o600);
  await writeWithMode(publicPath, pair.publicArmored, 0o644);
  return { privatePath, publicPath };
}

async function writeWithMode(path: string, text: string, mode: number): Promise<void> {
  // Tighten the mode before any byte is written: an existing file may have been world-readable,
  // and `mode` on open only applies to files it creates (and is masked by the umask).
  const handle = await open(path, 'w', mode);
  try {
    await handle.chmod(mode);
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}
