// Manifest signatures against the real gpg as oracle: gpg's signatures verify in slipway and slipway's
// in gpg, and every way a signature or keyring can be wrong fails with its own stable code.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readPrivateKey, revokeKey } from 'openpgp';
import { loadKeyring, parseKeyring } from '../../agent/update-io/keyring.ts';
import type { Keyring } from '../../agent/update-io/keyring.ts';
import { verifyDetachedSignature } from '../../agent/update-io/signature-verifier.ts';
import { UpdateError } from '../../agent/update/update-errors.ts';
import type { UpdateErrorCode } from '../../agent/update/update-errors.ts';
import { generateSigningKey, signDetached } from '../../images/release-key.ts';
import { tempDir } from '../builders/coreos-disk.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import { missingTools } from '../builders/require-tools.ts';

const skip = missingTools({ gpg: 'gnupg' });
const execFileAsync = promisify(execFile);

// gpg runs on a frozen fake clock so key and signature times are the same on every run.
const T0 = new Date('2025-06-01T00:00:00Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);
const HOUR = 3600;
const DAY = 24 * HOUR;
const MANIFEST = new TextEncoder().encode('{"channel":"stable","arch":"x86_64","version":"41.20250601.0"}\n');

let dir: TempDir;
let home: string;

function gpgTime(date: Date): string {
  return `${date.toISOString().replace(/[-:]/g, '').slice(0, 15)}!`;
}

async function gpg(args: string[], time: Date = at(60)): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--faked-system-time', gpgTime(time), ...args]);
}

/** Signs MANIFEST (or `data`) with gpg; extra args pick the key, digest and kind of signature. */
async function gpgSign(name: string, args: string[], data: Uint8Array = MANIFEST): Promise<string> {
  const input = join(dir.path, `${name}.data`);
  const output = join(dir.path, `${name}.sig`);
  await writeFile(input, data);
  await gpg(['--armor', '--output', output, ...args, input]);
  return readFile(output, 'utf8');
}

async function fingerprintOf(uid: string): Promise<string> {
  const { stdout } = await gpg(['--with-colons', '--list-keys', uid]);
  const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(stdout)?.[1];
  if (fpr === undefined) throw new Error(`no fingerprint for ${uid} in:\n${stdout}`);
  return fpr;
}

async function keyringOf(name: string, content: string | Uint8Array): Promise<Keyring> {
  const path = join(dir.path, `${name}.keyring`);
  await writeFile(path, content);
  return loadKeyring(path);
}

async function exported(...uids: string[]): Promise<string> {
  return (await gpg(['--export', '--armor', ...uids])).stdout;
}

async function expectUpdateError(promise: Promise<unknown>, code: UpdateErrorCode, fragment: string | RegExp): Promise<UpdateError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(UpdateError);
  const updateError = error as UpdateError;
  expect(updateError.code).toBe(code);
  expect(updateError.message).toMatch(fragment);
  return updateError;
}

const fpr: Record<string, string> = {};

beforeAll(async () => {
  if (skip !== null) return;
  dir = await tempDir('slipway-sig-');
  home = join(dir.path, 'gnupg');
  await mkdir(home, { mode: 0o700 });
  for (const [uid, expiry] of [['alpha@release.test', 'never'], ['beta@release.test', 'never'], ['short@release.test', '1d'], ['stranger@evil.test', 'never'], ['gone@release.test', 'never']] as const) {
    await gpg(['--quick-gen-key', `${uid.split('@')[0] ?? uid} <${uid}>`, 'ed25519', 'sign', expiry], T0);
    fpr[uid] = await fingerprintOf(uid);
  }
}, 60_000);

afterAll(async () => {
  if (skip !== null) return;
  await execFileAsync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']).catch(() => undefined);
  await dir.remove();
});

describe.skipIf(skip !== null)(`signatures against real gpg${skip === null ? '' : ` (skipped: ${skip})`}`, () => {
  describe('interoperability', () => {
    it('verifies a manifest signed by gpg --detach-sign with the keyring from gpg --export --armor', async () => {
      const keyring = await keyringOf('alpha', await exported('alpha@release.test'));
      const signature = await gpgSign('alpha', ['--local-user', 'alpha@release.test', '--detach-sign']);
      const verified = await verifyDetachedSignature(MANIFEST, signature, keyring, at(HOUR));
      expect(verified).toEqual({ fingerprint: fpr['alpha@release.test'], created: at(60) });
    });

    it('produces signatures gpg --verify accepts, with a SHA-256-or-stronger digest', async () => {
      const pair = await generateSigningKey({ name: 'Slipway Release', email: 'release@slipway.test', now: T0 });
      const signature = await signDetached(MANIFEST, pair.privateArmored, at(60));
      const keyFile = join(dir.path, 'slipway-public.asc');
      await writeFile(keyFile, pair.publicArmored);
      await gpg(['--import', keyFile]);
      await writeFile(join(dir.path, 'slipway.data'), MANIFEST);
      await writeFile(join(dir.path, 'slipway.data.asc'), signature);
      const { stdout } = await gpg(['--status-fd', '1', '--verify', join(dir.path, 'slipway.data.asc'), join(dir.path, 'slipway.data')], at(HOUR));
      // VALIDSIG <fpr> <date> <timestamp> <expires> <version> <reserved> <pk-algo> <hash-algo> <class> <primary-fpr>
      const fields = /^\[GNUPG:\] VALIDSIG (.*)$/m.exec(stdout)?.[1]?.split(' ') ?? [];
      expect(fields[0]).toBe(pair.fingerprint);
      expect(fields[2]).toBe(String(at(60).getTime() / 1000));
      expect(['8', '9', '10']).toContain(fields[7]);
      expect(fields[8]).toBe('00');
      const own = await verifyDetachedSignature(MANIFEST, signature, await keyringOf('slipway', pair.publicArmored), at(HOUR));
      expect(own.fingerprint).toBe(pair.fingerprint);
    });

    it('accepts a signature by the second key of a keyring exported with several keys', async () => {
      const keyring = await keyringOf('two', await exported('alpha@release.test', 'beta@release.test'));
      expect(keyring.fingerprints).toEqual([fpr['alpha@release.test'], fpr['beta@release.test']]);
      const signature = await gpgSign('beta', ['--local-user', 'beta@release.test', '--detach-sign']);
      const verified = await verifyDetachedSignature(MANIFEST, signature, keyring, at(HOUR));
      expect(verified.fingerprint).toBe(fpr['beta@release.test']);
    });

    it('reads concatenated armored files and binary keyrings alike', async () => {
      const concatenated = (await exported('alpha@release.test')) + (await exported('beta@release.test'));
      const binary = (await execFileAsync('gpg', ['--homedir', home, '--batch', '--export', 'alpha@release.test', 'beta@release.test'], { encoding: 'buffer' })).stdout;
      for (const keyring of [await keyringOf('cat', concatenated), await keyringOf('binary', new Uint8Array(binary))]) {
        expect(keyring.fingerprints).toEqual([fpr['alpha@release.test'], fpr['beta@release.test']]);
        expect(keyring.keys[1]?.userIds).toEqual(['beta <beta@release.test>']);
      }
    });

    it('accepts a signature with several signers when one of them is trusted', async () => {
      const keyring = await keyringOf('alpha-only', await exported('alpha@release.test'));
      const signature = await gpgSign('both', ['--local-user', 'stranger@evil.test', '--local-user', 'alpha@release.test', '--detach-sign']);
      const verified = await verifyDetachedSignature(MANIFEST, signature, keyring, at(HOUR));
      expect(verified.fingerprint).toBe(fpr['alpha@release.test']);
    });
  });

  describe('rejected signatures', () => {
    let alpha: Keyring;
    beforeAll(async () => {
      alpha = await keyringOf('alpha-rejects', await exported('alpha@release.test'));
    });

    it('rejects an empty signature', async () => {
      await expectUpdateError(verifyDetachedSignature(MANIFEST, ' \n', alpha, at(HOUR)), 'ERR_SIGNATURE_INVALID', 'signature is empty');
    });

    it('rejects garbage', async () => {
      const garbage = '-----BEGIN PGP SIGNATURE-----\n\nbm90IGEgc2lnbmF0dXJl\n-----END PGP SIGNATURE-----\n';
      await expectUpdateError(verifyDetachedSignature(MANIFEST, garbage, alpha, at(HOUR)), 'ERR_SIGNATURE_INVALID', 'failed to parse detached signature');
      await expectUpdateError(verifyDetachedSignature(MANIFEST, 'hello', alpha, at(HOUR)), 'ERR_SIGNATURE_INVALID', 'failed to parse detached signature');
    });

    it('rejects an inline-signed message', async () => {
      const inline = await gpgSign('inline', ['--local-user', 'alpha@release.test', '--sign']);
      await expectUpdateError(verifyDetachedSignature(MANIFEST, inline, alpha, at(HOUR)), 'ERR_SIGNATURE_INVALID', 'inline-signed message');
    });

    it('rejects a cleartext-signed message', async () => {
      const clear = await gpgSign('clear', ['--local-user', 'alpha@release.test', '--clearsign']);
      await expectUpdateError(verifyDetachedSignature(MANIFEST, clear, alpha, at(HOUR)), 'ERR_SIGNATURE_INVALID', 'cleartext-signed message');
    });

    it('rejects a text-mode signature, which does not cover the exact bytes', async () => {
      const text = await gpgSign('textmode', ['--local-user', 'alpha@release.test', '--textmode', '--detach-sign']);
      await expectUpdateError(verifyDetachedSignature(MANIFEST, text, alpha, at(HOUR)), 'ERR_SIGNATURE_INVALID', 'not a binary-document signature');
    });

    it('rejects the data with one byte changed', async () => {
      const signature = await gpgSign('flip', ['--local-user', 'alpha@release.test', '--detach-sign']);
      const flipped = MANIFEST.slice();
      flipped[10] = (flipped[10] ?? 0) ^ 0x01;
      const error = await expectUpdateError(verifyDetachedSignature(flipped, signature, alpha, at(HOUR)), 'ERR_SIGNATURE_INVALID', `signature by key ${fpr['alpha@release.test']} does not verify`);
      expect(error.cause).toBeInstanceOf(Error);
    });

    it('rejects a signature by a key not in the keyring and names that key', async () => {
      const signature = await gpgSign('stranger', ['--local-user', 'stranger@evil.test', '--detach-sign']);
      const keyId = fpr['stranger@evil.test']?.slice(-16) ?? 'missing';
      await expectUpdateError(verifyDetachedSignature(MANIFEST, signature, alpha, at(HOUR)), 'ERR_SIGNATURE_UNKNOWN_KEY', keyId);
    });

    it('rejects a signature by a key that expired before now', async () => {
      const keyring = await keyringOf('short', await exported('short@release.test'));
      const signature = await gpgSign('short', ['--local-user', 'short@release.test', '--detach-sign']);
      // Valid while the key is: the failure below is the expiry, nothing else.
      await expect(verifyDetachedSignature(MANIFEST, signature, keyring, at(HOUR))).resolves.toMatchObject({ fingerprint: fpr['short@release.test'] });
      await expectUpdateError(verifyDetachedSignature(MANIFEST, signature, keyring, at(2 * DAY)), 'ERR_SIGNATURE_KEY_EXPIRED', /expired at 2025-06-02T00:00:00/);
    });

    it('rejects a signature by a key revoked with openpgp', async () => {
      const pair = await generateSigningKey({ name: 'Revoked', email: 'revoked@release.test', now: T0 });
      const signature = await signDetached(MANIFEST, pair.privateArmored, at(60));
      await expect(verifyDetachedSignature(MANIFEST, signature, await keyringOf('before-revoke', pair.publicArmored), at(HOUR))).resolves.toMatchObject({ fingerprint: pair.fingerprint });
      const { publicKey } = await revokeKey({ key: await readPrivateKey({ armoredKey: pair.privateArmored }), date: at(2 * 60), format: 'armored' });
      const keyring = await keyringOf('revoked', publicKey);
      await expectUpdateError(verifyDetachedSignature(MANIFEST, signature, keyring, at(HOUR)), 'ERR_SIGNATURE_KEY_REVOKED', `key ${pair.fingerprint}`);
    });

    it('rejects a signature by a key revoked with the certificate gpg made at key generation', async () => {
      const gone = fpr['gone@release.test'] ?? 'missing';
      const signature = await gpgSign('gone', ['--local-user', 'gone@release.test', '--detach-sign']);
      const revs = join(home, 'openpgp-revocs.d');
      expect(await readdir(revs)).toContain(`${gone}.rev`);
      // gpg prefixes the armor line with ':' so the certificate cannot be imported by accident.
      const certificate = (await readFile(join(revs, `${gone}.rev`), 'utf8')).replace(/^:-----BEGIN/m, '-----BEGIN');
      await writeFile(join(dir.path, 'gone.rev'), certificate);
      await gpg(['--import', join(dir.path, 'gone.rev')], at(2 * 60));
      const keyring = await keyringOf('gone', await exported('gone@release.test'));
      await expectUpdateError(verifyDetachedSignature(MANIFEST, signature, keyring, at(HOUR)), 'ERR_SIGNATURE_KEY_REVOKED', 'is revoked');
    });

    it('rejects a SHA-1 signature with our own error', async () => {
      const signature = await gpgSign('sha1', ['--local-user', 'alpha@release.test', '--digest-algo', 'SHA1', '--detach-sign']);
      await expectUpdateError(verifyDetachedSignature(MANIFEST, signature, alpha, at(HOUR)), 'ERR_SIGNATURE_WEAK_HASH', 'weak hash SHA1');
    });

    it('verifies nothing against a keyring-shaped object slipway did not load', async () => {
      const signature = await gpgSign('forged', ['--local-user', 'alpha@release.test', '--detach-sign']);
      const forged: Keyring = { source: 'forged', keys: alpha.keys, fingerprints: alpha.fingerprints };
      await expectUpdateError(verifyDetachedSignature(MANIFEST, signature, forged, at(HOUR)), 'ERR_KEYRING_EMPTY', 'forged');
    });
  });

  describe('rejected keyrings', () => {
    it('refuses a missing keyring file', async () => {
      await expectUpdateError(loadKeyring(join(dir.path, 'nope.asc')), 'ERR_KEYRING_MISSING', 'nope.asc does not exist');
    });

    it('refuses an empty keyring file', async () => {
      await expectUpdateError(keyringOf('empty', ''), 'ERR_KEYRING_EMPTY', 'empty.keyring is empty');
      await expectUpdateError(keyringOf('blank', '\n\n'), 'ERR_KEYRING_EMPTY', 'blank.keyring is empty');
    });

    it('refuses a keyring that cannot be parsed', async () => {
      await expectUpdateError(keyringOf('garbage', new Uint8Array([0xff, 0x00, 0x13, 0x37])), 'ERR_KEYRING_INVALID', 'failed to parse binary keys');
      await expectUpdateError(keyringOf('truncated', '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ'), 'ERR_KEYRING_INVALID', 'no complete armored block');
    });

    it('refuses a keyring that holds a private key', async () => {
      const secret = (await gpg(['--export-secret-keys', '--armor', 'alpha@release.test'])).stdout;
      await expectUpdateError(keyringOf('secret', secret), 'ERR_KEYRING_INVALID', 'only public keys');
      const binarySecret = (await execFileAsync('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--export-secret-keys', 'alpha@release.test'], { encoding: 'buffer' })).stdout;
      await expectUpdateError(parseKeyring(new Uint8Array(binarySecret), 'secret.gpg'), 'ERR_KEYRING_INVALID', `private key ${fpr['alpha@release.test']}`);
    });

    it('refuses a keyring file holding a signature instead of keys', async () => {
      const signature = await gpgSign('not-a-key', ['--local-user', 'alpha@release.test', '--detach-sign']);
      await expectUpdateError(keyringOf('signature', signature), 'ERR_KEYRING_INVALID', '"PGP SIGNATURE" block');
    });

    it('reports an unreadable keyring as invalid, not missing', async () => {
      const path = join(dir.path, 'a-directory.asc');
      await mkdir(path);
      await chmod(path, 0o700);
      await expectUpdateError(loadKeyring(path), 'ERR_KEYRING_INVALID', 'failed to read keyring');
    });
  });
});
