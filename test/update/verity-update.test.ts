// dm-verity through the real update path (`slipway update --once`, a loopback channel, a GPT disk
// image): the slot's tree is checked against the signed root before anything is made bootable, the
// root hash is recorded beside the boot flags (grubenv) or in the ESP's block (gptprio), a slot being
// overwritten has its old hash cleared before its first byte, and a tree that does not match fails.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateSigningKey, signDetached } from '../../images/release-key.ts';
import { publishRelease } from '../../images/publish-release.ts';
import { parseManifest } from '../../images/release-manifest.ts';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { GrubenvBootChooser } from '../../agent/slots/grubenv-boot-chooser.ts';
import { GrubenvSlotHashStore } from '../../agent/slots/grubenv-hash-store.ts';
import { parseGrubenv, serializeGrubenv } from '../../platform/grub/grubenv-block.ts';
import { DEFAULT_STATE, fixedLayoutBlock } from '../../platform/grub/grubenv-flags.ts';
import { makeCoreosImage, tempDir } from '../builders/coreos-disk.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import { GRUB_TOOLS, missingTools, SGDISK } from '../builders/require-tools.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import type { ReleaseServer } from '../../qemu/release-server.ts';
import type { SigningKeyPair } from '../../images/release-key.ts';
import type { TempDir } from '../builders/coreos-disk.ts';

const exec = promisify(execFile);
const skip = missingTools({ ...SGDISK, ...GRUB_TOOLS, veritysetup: 'cryptsetup-bin' });
const MiB = 1024 * 1024;
const SLOT_B = (1 + 4 + 1 + 8) * MiB;
let dir: TempDir;
let server: ReleaseServer;
let key: SigningKeyPair;
let keyring: string;
let www: string;
let disk: string;
let env: string;
let stateDir: string;
let counter = 0;
const now = new Date();

beforeAll(async () => {
  if (skip !== null) return;
  dir = await tempDir();
  key = await generateSigningKey({ name: 'test release', email: 'release@test.invalid', now: new Date(now.getTime() - 86_400_000) });
  keyring = join(dir.path, 'keyring.asc');
  await writeFile(keyring, key.publicArmored);
  await writeFile(join(dir.path, 'slot.img'), randomBytes(5 * MiB + 123));
  www = join(dir.path, 'www');
  server = await startReleaseServer(www);
});
afterAll(async () => {
  if (skip !== null) return;
  await server.close();
  await dir.remove();
});
beforeEach(async () => {
  if (skip !== null) return;
  server.handle(null);
  await rm(www, { recursive: true, force: true });
  await mkdir(www);
  disk = join(dir.path, `disk-${counter}.img`);
  env = join(dir.path, `grubenv-${counter}`);
  stateDir = join(dir.path, `state-${counter++}`);
  await makeCoreosImage(disk);
  await writeFile(env, fixedLayoutBlock({ ...DEFAULT_STATE, A_OK: '1' }, [], env));
});

async function publish(version: string): Promise<void> {
  await publishRelease({ image: join(dir.path, 'slot.img'), version, channel: 'stable', arch: 'x86_64', board: 'qemu', privateKeyArmored: key.privateArmored, outDir: www, now, expiresInSeconds: 86_400, chunkSize: MiB, verity: true });
}

async function manifest(): Promise<ReturnType<typeof parseManifest>> {
  return parseManifest(await readFile(join(www, 'stable', 'manifest.json')), 'test');
}

function update(chooser: 'grubenv' | 'gptprio'): Promise<{ code: number; stdout: string; stderr: string }> {
  return runSlipway(['--booted', 'USR-A', 'update', '--once', '--server', server.url, '--channel', 'stable', '--keyring', keyring, '--disk', disk, '--state-dir', stateDir,
    '--current-version', '1.0.0', '--arch', 'x86_64', '--board', 'qemu', '--chooser', chooser, '--grubenv', env, '--json']);
}

async function editenv(): Promise<Record<string, string>> {
  const { stdout } = await exec('grub-editenv', [env, 'list']);
  // Only the final newline goes: a value's padding is part of it.
  return Object.fromEntries(stdout.replace(/\n$/, '').split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

const grubenvChooser = (): GrubenvBootChooser => new GrubenvBootChooser(({ writable }) => FileBlockDevice.open(disk, { writable }), env);
const OLD_HASH = 'e'.repeat(64);

describe.skipIf(skip !== null)(`${skip ?? ''} dm-verity on the update path`, () => {
  it.each(['grubenv', 'gptprio'] as const)('%s: checks the tree, records B_VERITY from the signed manifest, then stages', async (chooser) => {
    await publish('1.0.1');
    const result = await update(chooser);
    expect(result.stderr).not.toContain('"level":50');
    expect(JSON.parse(result.stdout)).toMatchObject({ result: 'staged', slot: 'USR-B' });
    const { verity } = await manifest();
    const vars = await editenv();
    expect(vars).toMatchObject({ B_VERITY: verity?.rootHash, B_VERITY_OFFSET: String(verity?.hashOffset).padEnd(16, ' '), A_VERITY: '0'.repeat(64), A_VERITY_OFFSET: '0'.padEnd(16, ' ') });
    expect(await new GrubenvSlotHashStore(env).read()).toEqual({ 'USR-A': null, 'USR-B': { rootHash: verity?.rootHash, hashOffset: verity?.hashOffset } });
    // What veritysetup (and so the kernel) will check at boot, from the slot's own bytes.
    const slot = join(dir.path, `slot-b-${counter}.img`);
    await exec('dd', [`if=${disk}`, `of=${slot}`, 'bs=1M', `skip=${SLOT_B / MiB}`, 'count=8', 'status=none']);
    await exec('veritysetup', ['verify', slot, slot, vars.B_VERITY ?? '', `--hash-offset=${(vars.B_VERITY_OFFSET ?? '').trim()}`]);
    if (chooser === 'grubenv') expect((await grubenvChooser().read()).next).toBe('USR-B');
  });

  it('converts a block from before the verity values once, keeping the flags where GRUB reads them', async () => {
    const old = serializeGrubenv([{ name: 'ORDER', raw: 'A B' }, { name: 'A_OK', raw: '1' }, { name: 'A_TRY', raw: '0' }, { name: 'B_OK', raw: '0' }, { name: 'B_TRY', raw: '0' }, { name: 'saved_entry', raw: 'x' }], env);
    await writeFile(env, old);
    await publish('1.0.1');
    expect((await update('grubenv')).code).toBe(0);
    // The flags never moved: a torn conversion rewrites them with the same bytes at the same offsets.
    const offsets = (bytes: Uint8Array): Record<string, number> => Object.fromEntries(parseGrubenv(bytes, env).map((v) => [v.name, v.offset]));
    const flags = (bytes: Uint8Array): number[] => ['ORDER', 'A_OK', 'A_TRY', 'B_OK', 'B_TRY'].map((name) => offsets(bytes)[name] ?? -1);
    expect(flags(await readFile(env))).toEqual(flags(old));
    expect(await editenv()).toMatchObject({ B_TRY: '1', B_VERITY: (await manifest()).verity?.rootHash, saved_entry: 'x' });
  });

  it("clears the slot's old hash before its first byte is written: a half-written slot carries none", async () => {
    await new GrubenvSlotHashStore(env).write('USR-B', { rootHash: OLD_HASH, hashOffset: 4096 });
    await publish('1.0.1');
    // The payload is garbage from every mirror: the slot was made unbootable, and its hash cleared, for nothing.
    const { payload } = await manifest();
    server.handle((request, response, serve) => {
      if (request.url?.endsWith('.zst') === true) {
        response.writeHead(200, { 'content-length': payload.size }).end(Buffer.alloc(payload.size, 0x55));
        return;
      }
      return serve();
    });
    const result = await update('grubenv');
    expect(result.stderr).toContain('[ERR_PAYLOAD_CORRUPT]');
    expect(await editenv()).toMatchObject({ B_VERITY: '0'.repeat(64), B_VERITY_OFFSET: '0'.padEnd(16, ' '), B_OK: '0', B_TRY: '0' });
  });

  it('fails a signed root hash that is not the root of the image\'s tree before anything is bootable, and charges the release', async () => {
    await new GrubenvSlotHashStore(env).write('USR-B', { rootHash: OLD_HASH, hashOffset: 4096 });
    await publish('1.0.1');
    const path = join(www, 'stable', 'manifest.json');
    const text = (await readFile(path, 'utf8')).replace(/"rootHash": "[0-9a-f]{64}"/, `"rootHash": "${'d'.repeat(64)}"`);
    await writeFile(path, text);
    await writeFile(join(www, 'stable', 'manifest.json.asc'), await signDetached(Buffer.from(text), key.privateArmored, now));
    const result = await update('grubenv');
    expect(result.code).toBe(6);
    expect(result.stderr).toContain('[ERR_VERITY_MISMATCH]');
    expect(result.stderr).toContain(`USR-B after writing 1.0.1: the dm-verity tree does not match the signed root hash ${'d'.repeat(64)}`);
    expect(await editenv()).toMatchObject({ B_VERITY: '0'.repeat(64), B_OK: '0', B_TRY: '0' });
    expect((await grubenvChooser().read()).next).toBe('USR-A');
    const record = JSON.parse(await readFile(join(stateDir, 'update-state.json'), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({ lastError: { code: 'ERR_VERITY_MISMATCH' }, failures: { '1.0.1': 1 } });
  });
});
