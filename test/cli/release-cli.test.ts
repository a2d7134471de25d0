// The publisher's commands as run from a shell: keygen writes a private key only its owner can read
// and a keyring to ship; publish writes a channel a static server can serve; publishing again keeps
// the previous release whole for clients still downloading it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseManifest } from '../../images/release-manifest.ts';
import { loadKeyring } from '../../agent/update-io/keyring.ts';
import { verifyDetachedSignature } from '../../agent/update-io/signature-verifier.ts';
import { tempDir } from '../builders/coreos-disk.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import { runSlipway } from '../builders/run-slipway.ts';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

function slipway(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runSlipway(args);
}

describe('slipway release', () => {
  it('generates a key pair, publishes two releases, and keeps the first one whole', async () => {
    const keys = join(dir.path, 'keys');
    const keygen = await slipway('release', 'keygen', '--out', keys, '--json');
    expect(keygen.code).toBe(0);
    const { fingerprint, privatePath, publicPath } = JSON.parse(keygen.stdout) as { fingerprint: string; privatePath: string; publicPath: string };
    expect((await stat(privatePath)).mode & 0o777).toBe(0o600);
    expect((await stat(publicPath)).mode & 0o777).toBe(0o644);
    expect(await readFile(publicPath, 'utf8')).not.toContain('PRIVATE KEY');

    const image = join(dir.path, 'slot.img');
    const bytes = randomBytes(3 * 1024 * 1024);
    await writeFile(image, bytes);
    const out = join(dir.path, 'www');
    const first = await slipway('release', 'publish', '--image', image, '--version', '1.0.1', '--channel', 'stable', '--key', privatePath, '--out', out, '--expires', '7d', '--no-verity');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^published 1\.0\.1 to .*stable\/manifest\.json/);
    const firstManifest = await readFile(join(out, 'stable', 'manifest.json'));

    const keyring = await loadKeyring(publicPath);
    const signer = await verifyDetachedSignature(firstManifest, await readFile(join(out, 'stable', 'manifest.json.asc'), 'utf8'), keyring, new Date());
    expect(signer.fingerprint.toLowerCase()).toBe(fingerprint.toLowerCase());
    const manifest = parseManifest(firstManifest, 'test');
    expect(manifest).toMatchObject({ channel: 'stable', version: '1.0.1', arch: 'x86_64', board: 'generic' });
    expect(manifest.payload.imageSha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(Date.parse(manifest.expires) - Date.parse(manifest.created)).toBe(7 * 86_400_000);

    const payloadBefore = await readFile(join(out, 'stable', manifest.payload.url));
    await writeFile(image, randomBytes(1024 * 1024));
    expect((await slipway('release', 'publish', '--image', image, '--version', '1.0.2', '--channel', 'stable', '--key', privatePath, '--out', out)).code).toBe(0);
    expect(parseManifest(await readFile(join(out, 'stable', 'manifest.json')), 'test').version).toBe('1.0.2');
    // A client that fetched the 1.0.1 manifest still finds its payload, byte for byte.
    expect(Buffer.compare(await readFile(join(out, 'stable', manifest.payload.url)), payloadBefore)).toBe(0);
    expect(await readFile(join(out, 'stable', 'releases', '1.0.1', 'manifest.json'))).toEqual(firstManifest);
  });

  it('refuses to publish a version twice', async () => {
    const keys = join(dir.path, 'keys2');
    await slipway('release', 'keygen', '--out', keys);
    const image = join(dir.path, 'small.img');
    await writeFile(image, randomBytes(4096));
    const args = ['release', 'publish', '--image', image, '--version', '2.0.0', '--channel', 'beta', '--key', join(keys, 'signing-key.asc'), '--out', join(dir.path, 'www2')];
    expect((await slipway(...args)).code).toBe(0);
    const again = await slipway(...args);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('a published release is never changed');
  });

  it('explains a bad duration', async () => {
    const result = await slipway('release', 'keygen', '--out', join(dir.path, 'k3'), '--expires', 'soon');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('"soon" is not a duration like 30d, 12h or 2y');
  });
});

describe('slipway release publish with a rollout', () => {
  it('writes waves or a spread into a format 2 manifest; without one the manifest stays format 1', async () => {
    const keys = join(dir.path, 'keys-rollout');
    await slipway('release', 'keygen', '--out', keys);
    const image = join(dir.path, 'rollout.img');
    await writeFile(image, randomBytes(4096));
    const out = join(dir.path, 'www-rollout');
    const publish = (version: string, ...extra: string[]) => slipway('release', 'publish', '--image', image, '--version', version, '--channel', 'stable', '--key', join(keys, 'signing-key.asc'), '--out', out, '--no-verity', '--format', '3', ...extra);
    const manifest = async () => parseManifest(await readFile(join(out, 'stable', 'manifest.json')), 'test');

    const waves = await publish('1.0.1', '--waves', '10%@+0h,100%@2030-01-02T00:00Z', '--rollout-start', '2030-01-01T00:00Z');
    expect(waves.code).toBe(0);
    expect(waves.stdout).toContain('rolling out in waves: 10% at 2030-01-01T00:00:00.000Z, 100% at 2030-01-02T00:00:00.000Z');
    expect(await manifest()).toMatchObject({ format: 2, rollout: { waves: [{ at: '2030-01-01T00:00:00.000Z', fraction: 0.1 }, { at: '2030-01-02T00:00:00.000Z', fraction: 1 }] } });

    expect((await publish('1.0.2', '--rollout', '24h', '--rollout-start', '2030-01-01T01:00+01:00')).code).toBe(0);
    expect(await manifest()).toMatchObject({ format: 2, rollout: { start: '2030-01-01T00:00:00.000Z', durationSeconds: 86_400 } });

    expect((await publish('1.0.3')).code).toBe(0);
    const plain = await manifest();
    expect(plain.format).toBe(1);
    expect(plain).not.toHaveProperty('rollout');

    const bad = await publish('1.0.4', '--waves', '10%@+0h,50%@+6h');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--waves: the last wave must be 100% (every host), got 50%');
    expect((await manifest()).version).toBe('1.0.3');
  });
});

describe('slipway release publish with a verity tree (the default)', () => {
  it('appends the tree to the payload and signs its root, salt and sizes in a format 3 manifest, rollout or not; format 4 (the default) adds the chunk index', async () => {
    const keys = join(dir.path, 'keys-verity');
    await slipway('release', 'keygen', '--out', keys);
    const image = join(dir.path, 'verity.img');
    const bytes = randomBytes(256 * 4096 + 1);
    await writeFile(image, bytes);
    const out = join(dir.path, 'www-verity');
    const published = await slipway('release', 'publish', '--image', image, '--version', '1.0.0', '--channel', 'stable', '--key', join(keys, 'signing-key.asc'), '--out', out, '--rollout', '1h', '--format', '3');
    expect(published.code).toBe(0);
    const manifest = parseManifest(await readFile(join(out, 'stable', 'manifest.json')), 'test');
    expect(published.stdout).toContain(`; verity root ${manifest.verity?.rootHash ?? 'none'}`);
    // 257 data blocks after padding: 3 level-0 blocks, 1 above, and the superblock's.
    expect(manifest).toMatchObject({ format: 3, rollout: { durationSeconds: 3600 }, verity: { dataSize: 257 * 4096, hashOffset: 257 * 4096, algorithm: 'sha256', blockSize: 4096 }, payload: { imageSize: 262 * 4096 } });
    expect(await readFile(image)).toEqual(bytes);
    expect(manifest.payload.index).toBeUndefined();

    const latest = await slipway('release', 'publish', '--image', image, '--version', '1.0.1', '--channel', 'stable', '--key', join(keys, 'signing-key.asc'), '--out', out);
    expect(latest.code).toBe(0);
    const delta = parseManifest(await readFile(join(out, 'stable', 'manifest.json')), 'test');
    expect(delta).toMatchObject({ format: 4, payload: { index: { url: 'releases/1.0.1/payload.img.zst.chunks.idx' } } });
    expect((await readFile(join(out, 'stable', 'releases', '1.0.1', 'payload.img.zst.chunks.idx'))).length).toBe(delta.payload.index?.size);

    const tooOld = await slipway('release', 'publish', '--image', image, '--version', '1.0.2', '--channel', 'stable', '--key', join(keys, 'signing-key.asc'), '--out', out, '--format', '2');
    expect(tooOld.code).toBe(2);
    expect(tooOld.stderr).toContain('a dm-verity tree needs format 3; --format is 2');
  });
});

