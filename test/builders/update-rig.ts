// The bench the update tests share: a temporary directory, a release key (made a day ago unless told)
// and its keyring, a loopback release server on www/ (emptied and its handler reset before each
// test), and for each test a new CoreOS-layout disk and state directory.

import { afterAll, beforeAll, beforeEach } from 'vitest';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSigningKey } from '../../images/release-key.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import { makeCoreosImage, tempDir } from './coreos-disk.ts';
import type { SigningKeyPair } from '../../images/release-key.ts';
import type { ReleaseServer } from '../../qemu/release-server.ts';
import type { TempDir } from './coreos-disk.ts';

export interface UpdateRig {
  readonly dir: string;
  readonly key: SigningKeyPair;
  readonly keyring: string;
  readonly www: string;
  readonly server: ReleaseServer;
  /** This test's disk and state directory; newHost() replaces them. */
  readonly disk: string;
  readonly stateDir: string;
  /** Numbers this host's files apart from every other host's in the run. */
  readonly host: number;
  /** Another host from scratch within one test: a new disk and state directory. */
  newHost(): Promise<void>;
}

export interface UpdateRigOptions {
  /** How long before now the key was made (releases published "in the past" need an older key). */
  readonly keyAgeMs?: number;
}

/** Registers the hooks; the returned function gives the rig while the tests run. Nothing is set up when `skip` says why not. */
export function useUpdateRig(skip: string | null, options: UpdateRigOptions = {}): () => UpdateRig {
  let temp: TempDir | null = null;
  let rig: { dir: string; key: SigningKeyPair; keyring: string; www: string; server: ReleaseServer; disk: string; stateDir: string; host: number } | null = null;
  let hosts = 0;
  const newHost = async (): Promise<void> => {
    if (rig === null) throw new Error('the update rig exists only while the tests run');
    rig.host = hosts++;
    rig.disk = join(rig.dir, `disk-${rig.host}.img`);
    rig.stateDir = join(rig.dir, `state-${rig.host}`);
    await makeCoreosImage(rig.disk);
  };
  beforeAll(async () => {
    if (skip !== null) return;
    temp = await tempDir();
    const key = await generateSigningKey({ name: 'test release', email: 'release@test.invalid', now: new Date(Date.now() - (options.keyAgeMs ?? 86_400_000)) });
    const keyring = join(temp.path, 'keyring.asc');
    await writeFile(keyring, key.publicArmored);
    const www = join(temp.path, 'www');
    rig = { dir: temp.path, key, keyring, www, server: await startReleaseServer(www), disk: '', stateDir: '', host: -1 };
  });
  afterAll(async () => {
    await rig?.server.close();
    await temp?.remove();
  });
  beforeEach(async () => {
    if (rig === null) return;
    rig.server.handle(null);
    await rm(rig.www, { recursive: true, force: true });
    await mkdir(rig.www);
    await newHost();
  });
  return () => {
    if (rig === null) throw new Error('the update rig exists only while the tests run');
    return { ...rig, newHost };
  };
}
