// The set of public keys the OS trusts for releases: read from the keyring file shipped in the image,
// refusing a missing, empty, unreadable or secret-bearing file so no update is ever accepted unverified.

import { readFile } from 'node:fs/promises';
import { readKeys } from 'openpgp';
import type { Key, PublicKey } from 'openpgp';
import { requireSafePath } from '../config/safe-path.ts';
import { UpdateError } from '../update/update-errors.ts';

/** One trusted key, described in our words (for messages and `slipway status`). */
export interface KeyringKey {
  /** Upper-case hex, as `gpg --fingerprint` prints it without spaces. */
  readonly fingerprint: string;
  /** The 16-hex-digit long key ID of the primary key, upper-case. */
  readonly keyId: string;
  readonly userIds: readonly string[];
  readonly created: Date;
}

/** Trusted keys loaded from one file. Only `loadKeyring`/`parseKeyring` make them. */
export interface Keyring {
  readonly source: string;
  readonly keys: readonly KeyringKey[];
  readonly fingerprints: readonly string[];
}

// The openpgp objects stay behind this map so no openpgp type leaks into the Keyring API, and an
// object that merely has the Keyring shape (not made here) holds no keys and verifies nothing.
const openpgpKeys = new WeakMap<Keyring, readonly PublicKey[]>();

/** For signature-verifier.ts only: the openpgp keys behind a keyring made by this module. */
export function keyringOpenpgpKeys(keyring: Keyring): readonly PublicKey[] {
  const keys = openpgpKeys.get(keyring);
  if (keys === undefined || keys.length === 0) {
    throw new UpdateError('ERR_KEYRING_EMPTY', `keyring ${keyring.source} was not loaded by slipway or holds no keys`);
  }
  return keys;
}

/** Refuses (ERR_UNSAFE_PERMISSIONS) a keyring that a user other than root or this process could replace. */
export async function loadKeyring(path: string): Promise<Keyring> {
  await requireSafePath(path, 'keyring');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UpdateError('ERR_KEYRING_MISSING', `keyring ${path} does not exist; refusing every update`, { cause: error });
    }
    throw new UpdateError('ERR_KEYRING_INVALID', `failed to read keyring ${path}`, { cause: error });
  }
  return parseKeyring(bytes, path);
}

const ARMOR_BLOCK = /-----BEGIN PGP ([A-Z ,/0-9]+)-----[\s\S]*?-----END PGP \1-----/g;

/** Parses armored (one or several concatenated blocks) or binary public keys; `source` names them in errors. */
export async function parseKeyring(bytes: Uint8Array, source: string): Promise<Keyring> {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  if (text.trim() === '') {
    throw new UpdateError('ERR_KEYRING_EMPTY', `keyring ${source} is empty; refusing every update`);
  }
  const keys = text.trimStart().startsWith('-----BEGIN PGP') ? await readArmored(text, source) : await readBinary(bytes, source);
  if (keys.length === 0) {
    throw new UpdateError('ERR_KEYRING_EMPTY', `keyring ${source} holds no keys; refusing every update`);
  }
  const publicKeys: PublicKey[] = [];
  for (const key of keys) {
    // A secret key on every host would let anyone with one disk image sign releases for all of them.
    if (key.isPrivate()) {
      throw new UpdateError('ERR_KEYRING_INVALID', `keyring ${source} holds the private key ${fingerprintOf(key)}; the OS must ship only public keys`);
    }
    publicKeys.push(key);
  }
  const keyring: Keyring = {
    source,
    keys: publicKeys.map(describe),
    fingerprints: publicKeys.map(fingerprintOf),
  };
  openpgpKeys.set(keyring, publicKeys);
  return keyring;
}

async function readArmored(text: string, source: string): Promise<Key[]> {
  // openpgp reads one armor block per call; `cat a.asc b.asc > keyring.asc` gives several.
  const blocks = [...text.matchAll(ARMOR_BLOCK)];
  if (blocks.length === 0) {
    throw new UpdateError('ERR_KEYRING_INVALID', `keyring ${source} has an armor header but no complete armored block`);
  }
  const keys: Key[] = [];
  for (const [block, type] of blocks) {
    if (type === 'PRIVATE KEY BLOCK') {
      throw new UpdateError('ERR_KEYRING_INVALID', `keyring ${source} holds a private key block; the OS must ship only public keys`);
    }
    if (type !== 'PUBLIC KEY BLOCK') {
      throw new UpdateError('ERR_KEYRING_INVALID', `keyring ${source} holds a "PGP ${type}" block where only public keys belong`);
    }
    try {
      keys.push(...(await readKeys({ armoredKeys: block })));
    } catch (error) {
      throw new UpdateError('ERR_KEYRING_INVALID', `failed to parse armored keys in keyring ${source}`, { cause: error });
    }
  }
  return keys;
}

async function readBinary(bytes: Uint8Array, source: string): Promise<Key[]> {
  try {
    return await readKeys({ binaryKeys: bytes });
  } catch (error) {
    throw new UpdateError('ERR_KEYRING_INVALID', `failed to parse binary keys in keyring ${source}`, { cause: error });
  }
}

function fingerprintOf(key: Key): string {
  return key.getFingerprint().toUpperCase();
}

function describe(key: PublicKey): KeyringKey {
  return {
    fingerprint: fingerprintOf(key),
    keyId: key.getKeyID().toHex().toUpperCase(),
    userIds: key.getUserIDs(),
    created: key.getCreationTime(),
  };
}
