// An image over 4 GiB through the real apply path (loopback HTTP, zstd frames, SHA-256, a real sparse
// slot file): every byte hashed and written at its 64-bit offset, and an image longer or shorter than
// signed, past 4 GiB, refused without writing past the signed end. Costs about 35 s on a 2-CPU machine
// (4 GiB hashed four times, decompressed once: 26 s for the write and read-back); the payload is 200 KiB.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { constants, zstdCompressSync } from 'node:zlib';
import { applyPayload, hashSlot } from '../../agent/update-io/payload-apply.ts';
import { DEFAULT_HTTP_SETTINGS, HttpUpdateSource } from '../../agent/update-io/http-update-source.ts';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import { tempDir } from '../builders/coreos-disk.ts';
import type { BlockDevice } from '../../agent/slots/block-device.ts';
import type { PayloadDescription } from '../../images/release-manifest.ts';
import type { ReleaseServer } from '../../qemu/release-server.ts';
import type { TempDir } from '../builders/coreos-disk.ts';

const GIB4 = 2 ** 32;
const CHUNK = 64 * 1024 * 1024;
const ZERO_CHUNK = Buffer.alloc(CHUNK);
/** Random bytes just past 4 GiB: a 32-bit offset would write them over the start of the slot. */
const tail = randomBytes(1024 * 1024 + 123);
const IMAGE_SIZE = GIB4 + tail.length;

let dir: TempDir;
let server: ReleaseServer;
let payload: PayloadDescription;
let slotPath: string;

/**
 * The real file device, minus writes of zeros into the slot file made by truncate (a hole reads back
 * as zeros, so skipping them changes no byte): 4 GiB of zeros are not put on the disk, as `cp --sparse`
 * would not. Counts what it was asked to write, to show every byte went through write().
 */
class SparseSlot implements BlockDevice {
  readonly inner: FileBlockDevice;
  bytesAsked = 0;
  constructor(inner: FileBlockDevice) {
    this.inner = inner;
  }
  get path(): string {
    return this.inner.path;
  }
  get size(): number {
    return this.inner.size;
  }
  get sectorSize(): number {
    return this.inner.sectorSize;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(offset, length);
  }
  readInto(offset: number, target: Uint8Array): Promise<void> {
    return this.inner.readInto(offset, target);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    this.bytesAsked += data.length;
    return Buffer.compare(data, ZERO_CHUNK.subarray(0, data.length)) === 0 ? Promise.resolve() : this.inner.write(offset, data);
  }
  sync(): Promise<void> {
    return this.inner.sync();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

beforeAll(async () => {
  dir = await tempDir();
  const level = { params: { [constants.ZSTD_c_compressionLevel]: 1 } };
  const zeroFrame = zstdCompressSync(ZERO_CHUNK, level);
  const tailFrame = zstdCompressSync(tail, level);
  const frames = [...Array.from({ length: GIB4 / CHUNK }, () => zeroFrame), tailFrame];
  const bytes = Buffer.concat(frames);
  await mkdir(join(dir.path, 'www'));
  await writeFile(join(dir.path, 'www', 'payload.zst'), bytes);
  // The image's hash, computed here over every byte, independently of the apply path.
  const image = createHash('sha256');
  for (let at = 0; at < GIB4; at += CHUNK) image.update(ZERO_CHUNK);
  image.update(tail);
  payload = {
    url: 'payload.zst',
    compression: 'zstd',
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    imageSize: IMAGE_SIZE,
    imageSha256: image.digest('hex'),
    chunkSize: CHUNK,
    chunks: frames.map((f) => f.length),
  };
  server = await startReleaseServer(join(dir.path, 'www'));
  slotPath = join(dir.path, 'slot.img');
  await writeFile(slotPath, '');
  // A MiB of room past the image, so a write past the signed end would land somewhere visible.
  await truncate(slotPath, IMAGE_SIZE + 1024 * 1024);
}, 60_000);
afterAll(async () => {
  await server.close();
  await dir.remove();
});

const noWait = { now: () => new Date('2026-11-22T00:00:00Z'), sleep: () => Promise.resolve() };

async function withSlot<T>(use: (slot: SparseSlot) => Promise<T>): Promise<T> {
  const slot = new SparseSlot(await FileBlockDevice.open(slotPath, { writable: true, sectorSize: 512 }));
  try {
    return await use(slot);
  } finally {
    await slot.close();
  }
}

function apply(slot: BlockDevice, described: PayloadDescription, chunksDone: number): Promise<string> {
  return applyPayload({
    payload: described,
    source: new HttpUpdateSource({ ...DEFAULT_HTTP_SETTINGS, idleTimeoutMs: 30_000, retries: 0 }, noWait, () => 0.5).payloadSource(`${server.url}/payload.zst`),
    slot,
    chunksDone,
    maxResumes: 0,
    onProgress: () => Promise.resolve(),
  });
}

async function fileBytes(at: number, length: number): Promise<Buffer> {
  const file = await open(slotPath, 'r');
  try {
    const buffer = Buffer.alloc(length);
    await file.read(buffer, 0, length, at);
    return buffer;
  } finally {
    await file.close();
  }
}

describe('an image over 4 GiB', () => {
  it('is written at 64-bit offsets, every byte hashed as written and again as read back', async () => {
    const written = await withSlot(async (slot) => {
      const hash = await apply(slot, payload, 0);
      expect(slot.bytesAsked).toBe(IMAGE_SIZE);
      return hash;
    });
    expect(written).toBe(payload.imageSha256);
    expect(Buffer.compare(await fileBytes(GIB4, tail.length), tail)).toBe(0);
    // Nothing wrapped round to the start of the slot, nothing written past the image.
    expect(Buffer.compare(await fileBytes(0, tail.length), Buffer.alloc(tail.length))).toBe(0);
    expect(Buffer.compare(await fileBytes(IMAGE_SIZE, 1024 * 1024), Buffer.alloc(1024 * 1024))).toBe(0);
    expect(await withSlot((slot) => hashSlot(slot, IMAGE_SIZE))).toBe(payload.imageSha256);
  }, 180_000);

  // Resumed at the last frame (the first 4 GiB re-hashed from the slot), so each case costs one re-hash.
  it('signed one byte longer than the payload gives: refused as short, past 4 GiB', async () => {
    const longer = { ...payload, imageSize: IMAGE_SIZE + 1 };
    const error = await withSlot((slot) => apply(slot, longer, GIB4 / CHUNK)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_PAYLOAD_SIZE_MISMATCH', message: `payload decompressed to less than the ${IMAGE_SIZE + 1}-byte image` });
  }, 120_000);

  it('signed one byte shorter than the payload gives: refused as too large, and the byte past the signed end is never written', async () => {
    const shorter = { ...payload, imageSize: IMAGE_SIZE - 1 };
    await withSlot((slot) => slot.inner.write(IMAGE_SIZE - 1, Uint8Array.of(0xaa)));
    const error = await withSlot((slot) => apply(slot, shorter, GIB4 / CHUNK)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_PAYLOAD_TOO_LARGE', message: `payload decompresses to more than the ${IMAGE_SIZE - 1}-byte image; refusing to write past it` });
    expect([...(await fileBytes(IMAGE_SIZE - 1, 1))]).toEqual([0xaa]);
  }, 120_000);
});
