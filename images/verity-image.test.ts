// The tree a slot image carries, with veritysetup as the oracle: what we append verifies with
// `veritysetup verify --hash-offset`, is found again by the image's size, and a flipped byte in the data
// or the tree is caught by both veritysetup and our checks; `release publish` appends or checks it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { zstdDecompressSync } from 'node:zlib';
import { appendVerityTree, checkVerityImage, findVerityTree } from './verity-image.ts';
import { publishRelease } from './publish-release.ts';
import { generateSigningKey } from './release-key.ts';
import { missingTools } from '../test/builders/require-tools.ts';

const exec = promisify(execFile);
const skip = missingTools({ veritysetup: 'cryptsetup-bin' });

async function flipByte(path: string, at: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    byte[0] = (byte[0] ?? 0) ^ 0x01;
    await handle.write(byte, 0, 1, at);
  } finally {
    await handle.close();
  }
}

async function veritysetupVerify(path: string, rootHash: string, hashOffset: number): Promise<boolean> {
  return exec('veritysetup', ['verify', path, path, rootHash, `--hash-offset=${hashOffset}`]).then(
    () => true,
    () => false,
  );
}

describe.skipIf(skip !== null)(`${skip ?? ''} a slot image's verity tree`, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-verity-image-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends a tree veritysetup verifies, after the data padded to whole blocks', async () => {
    const image = join(dir, 'ragged.img');
    await writeFile(image, randomBytes(300 * 4096 + 100));
    const verity = await appendVerityTree(image);
    expect(verity).toMatchObject({ dataSize: 301 * 4096, hashOffset: 301 * 4096, algorithm: 'sha256', blockSize: 4096 });
    expect(verity.salt).toMatch(/^[0-9a-f]{64}$/);
    // 301 data blocks: 3 level-0 blocks, 1 above, and the superblock's.
    expect((await stat(image)).size).toBe(301 * 4096 + 5 * 4096);
    expect(await veritysetupVerify(image, verity.rootHash, verity.hashOffset)).toBe(true);
    expect(await findVerityTree(image)).toBe(301 * 4096);
    expect(await checkVerityImage(image)).toEqual(verity);
  });

  it('is not found in an image without one', async () => {
    const image = join(dir, 'plain.img');
    await writeFile(image, randomBytes(306 * 4096));
    expect(await findVerityTree(image)).toBeNull();
    await expect(checkVerityImage(image)).rejects.toThrow(expect.objectContaining({ code: 'ERR_VERITY_INVALID', message: `${image} does not end with a verity hash tree` }));
  });

  it.each([
    ['data', 77 * 4096 + 5],
    ['tree', 129 * 4096 + 4096 + 4096 + 40],
  ])('a flipped byte in the %s fails veritysetup and the publisher', async (_what, at) => {
    const image = join(dir, `flip-${at}.img`);
    await writeFile(image, randomBytes(129 * 4096));
    const verity = await appendVerityTree(image, { salt: Buffer.alloc(32, 7) });
    await flipByte(image, at);
    expect(await veritysetupVerify(image, verity.rootHash, verity.hashOffset)).toBe(false);
    await expect(checkVerityImage(image)).rejects.toThrow(expect.objectContaining({ code: 'ERR_VERITY_INVALID', message: expect.stringContaining('is not the tree of its data') as unknown }));
  });

  it('release publish appends a tree to a copy (format 3), or checks the one the image carries', async () => {
    const { privateArmored: privateKeyArmored } = await generateSigningKey({ name: 't', email: 't@slipway.invalid', now: new Date('2026-01-01T00:00:00Z') });
    const image = join(dir, 'slot.img');
    const original = randomBytes(1000 * 4096 + 10);
    await writeFile(image, original);
    const common = { channel: 'stable', arch: 'x86_64', board: 'qemu', privateKeyArmored, outDir: join(dir, 'out'), now: new Date('2026-01-01T00:00:00Z'), expiresInSeconds: 86_400, chunkSize: 1024 * 1024, verity: true, maxFormat: 3 };
    const { manifest } = await publishRelease({ ...common, image, version: '1.0.0' });
    expect((await readFile(image)).equals(original)).toBe(true);
    expect(manifest.format).toBe(3);
    expect(manifest.verity).toMatchObject({ dataSize: 1001 * 4096, hashOffset: 1001 * 4096 });
    const payload = zstdDecompressSync(await readFile(join(dir, 'out', 'stable', 'releases', '1.0.0', 'payload.img.zst')));
    const unpacked = join(dir, 'unpacked.img');
    await writeFile(unpacked, payload);
    expect(payload.length).toBe(manifest.payload.imageSize);
    expect(await veritysetupVerify(unpacked, manifest.verity?.rootHash ?? '', manifest.verity?.hashOffset ?? 0)).toBe(true);

    // An image that already ends with its tree is published as it is, with the same root.
    const again = await publishRelease({ ...common, image: unpacked, version: '1.0.1' });
    expect(again.manifest.verity).toEqual(manifest.verity);
    expect(again.manifest.payload.imageSha256).toBe(manifest.payload.imageSha256);

    // One with a spoilt tree is refused, and nothing is signed.
    const spoilt = join(dir, 'spoilt.img');
    await copyFile(unpacked, spoilt);
    await flipByte(spoilt, 1001 * 4096 + 4096 + 4096 + 3);
    await expect(publishRelease({ ...common, image: spoilt, version: '1.0.2' })).rejects.toThrow(expect.objectContaining({ code: 'ERR_VERITY_INVALID' }));
    await expect(stat(join(dir, 'out', 'stable', 'releases', '1.0.2', 'manifest.json'))).rejects.toThrow();

    const without = await publishRelease({ ...common, image, version: '1.0.3', verity: false });
    expect(without.manifest.format).toBe(1);
    expect(without.manifest.verity).toBeUndefined();
  });
});
