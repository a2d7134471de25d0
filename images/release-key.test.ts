// The publisher's signing key against real gpg: gpg reads the generated keys with the same fingerprint
// and expiry, verifies the detached signatures, and the key files land with owner-only private modes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readKey } from 'openpgp';
import { generateSigningKey, signDetached, writeKeyPair } from './release-key.ts';
import { tempDir } from '../test/builders/coreos-disk.ts';
import type { TempDir } from '../test/builders/coreos-disk.ts';
import { missingTools } from '../test/builders/require-tools.ts';

const skip = missingTools({ gpg: 'gnupg' });
const execFileAsync = promisify(execFile);

const T0 = new Date('2025-06-01T00:00:00Z');
const DATA = new TextEncoder().encode('release manifest bytes\r\nwith a CRLF that must not be normalised\n');

let dir: TempDir;
let home: string;

async function gpg(args: string[]): Promise<{ stdout: string; stderr: string }> {
  // Frozen at T0 + 1h so keys made "at T0" are neither in the future nor expired for gpg.
  return execFileAsync('gpg', ['--homedir', home, '--batch', '--faked-system-time', '20250601T010000!', ...args]);
}

beforeAll(async () => {
  if (skip !== null) return;
  dir = await tempDir('slipway-release-key-');
  home = join(dir.path, 'gnupg');
  await mkdir(home, { mode: 0o700 });
});

afterAll(async () => {
  if (skip !== null) return;
  await execFileAsync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']).catch(() => undefined);
  await dir.remove();
});

describe('generateSigningKey', () => {
  it('makes a public key with no secret material and the requested expiry', async () => {
    const pair = await generateSigningKey({ name: 'Slipway Release', email: 'release@slipway.test', now: T0, expiresInSeconds: 86_400 });
    expect(pair.fingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(pair.publicArmored).toContain('-----BEGIN PGP PUBLIC KEY BLOCK-----');
    expect(pair.publicArmored).not.toContain('PRIVATE');
    expect(pair.privateArmored).toContain('-----BEGIN PGP PRIVATE KEY BLOCK-----');
    const key = await readKey({ armoredKey: pair.publicArmored });
    expect(key.isPrivate()).toBe(false);
    expect(key.getCreationTime()).toEqual(T0);
    expect(await key.getExpirationTime()).toEqual(new Date(T0.getTime() + 86_400_000));
    expect(key.getUserIDs()).toEqual(['Slipway Release <release@slipway.test>']);
  });

  it('makes a key that does not expire when no expiry is given', async () => {
    const pair = await generateSigningKey({ name: 'Forever', email: 'forever@slipway.test', now: T0 });
    expect(await (await readKey({ armoredKey: pair.publicArmored })).getExpirationTime()).toBe(Infinity);
  });
});

describe.skipIf(skip !== null)(`release key against real gpg${skip === null ? '' : ` (skipped: ${skip})`}`, () => {
  it('is read by gpg with the same fingerprint, algorithm and expiry', async () => {
    const pair = await generateSigningKey({ name: 'Slipway Release', email: 'release@slipway.test', now: T0, expiresInSeconds: 86_400 });
    await writeFile(join(dir.path, 'expiring.asc'), pair.publicArmored);
    const { stdout } = await gpg(['--with-colons', '--import-options', 'show-only', '--import', join(dir.path, 'expiring.asc')]);
    // pub:<validity>:<bits>:<algo>:<keyid>:<created>:<expires>:
    const pub = /^pub:[^:]*:(\d+):(\d+):([0-9A-F]{16}):(\d+):(\d*):/m.exec(stdout);
    expect(pub?.[2]).toBe('22');
    expect(pub?.[3]).toBe(pair.fingerprint.slice(-16));
    expect(pub?.[4]).toBe(String(T0.getTime() / 1000));
    expect(pub?.[5]).toBe(String(T0.getTime() / 1000 + 86_400));
    expect(stdout).toContain(`fpr:::::::::${pair.fingerprint}:`);
  });

  it('signs detached with a digest gpg accepts as SHA-512 over the exact bytes', async () => {
    const pair = await generateSigningKey({ name: 'Slipway Release', email: 'release@slipway.test', now: T0 });
    const signature = await signDetached(DATA, pair.privateArmored, new Date(T0.getTime() + 60_000));
    expect(signature).toMatch(/^-----BEGIN PGP SIGNATURE-----/);
    await writeFile(join(dir.path, 'key.asc'), pair.publicArmored);
    await gpg(['--import', join(dir.path, 'key.asc')]);
    await writeFile(join(dir.path, 'data'), DATA);
    await writeFile(join(dir.path, 'data.asc'), signature);
    const { stdout } = await gpg(['--status-fd', '1', '--verify', join(dir.path, 'data.asc'), join(dir.path, 'data')]);
    const fields = /^\[GNUPG:\] VALIDSIG (.*)$/m.exec(stdout)?.[1]?.split(' ') ?? [];
    expect(fields[0]).toBe(pair.fingerprint);
    expect(fields[7]).toBe('10');
    expect(fields[8]).toBe('00');
    // A CRLF turned into LF must break it: the signature covers bytes, not text.
    await writeFile(join(dir.path, 'data'), new TextDecoder().decode(DATA).replace('\r\n', '\n'));
    await expect(gpg(['--status-fd', '1', '--verify', join(dir.path, 'data.asc'), join(dir.path, 'data')])).rejects.toMatchObject({ stdout: expect.stringContaining('[GNUPG:] BADSIG') as unknown });
  });

  it('writes the private key 0600 and the keyring 0644 into a 0700 directory, tightening existing files', async () => {
    const pair = await generateSigningKey({ name: 'Slipway Release', email: 'release@slipway.test', now: T0 });
    const keys = join(dir.path, 'keys', 'nested');
    const first = await writeKeyPair(keys, pair);
    expect(first).toEqual({ privatePath: join(keys, 'signing-key.asc'), publicPath: join(keys, 'keyring.asc') });
    expect((await stat(keys)).mode & 0o777).toBe(0o700);
    expect((await stat(first.privatePath)).mode & 0o777).toBe(0o600);
    expect((await stat(first.publicPath)).mode & 0o777).toBe(0o644);
    expect(await readFile(first.privatePath, 'utf8')).toBe(pair.privateArmored);
    expect(await readFile(first.publicPath, 'utf8')).toBe(pair.publicArmored);

    const stale = join(dir.path, 'stale');
    await mkdir(stale, { mode: 0o755 });
    await writeFile(join(stale, 'signing-key.asc'), 'an older, world-readable key', { mode: 0o644 });
    const second = await writeKeyPair(stale, pair);
    expect((await stat(second.privatePath)).mode & 0o777).toBe(0o600);
    expect(await readFile(second.privatePath, 'utf8')).toBe(pair.privateArmored);
  });
});
