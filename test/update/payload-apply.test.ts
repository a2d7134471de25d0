// The streaming apply against a real loopback HTTP server and a real disk-image file: the happy
// path, resets mid-payload resumed with Range, a server that ignores Range, a resume after the
// process died, and payloads that lie about their size or content. Nothing is written past a slot.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compressImage } from '../../images/payload-compress.ts';
import { applyPayload, commitEvery, hashSlot } from '../../agent/update-io/payload-apply.ts';
import { DEFAULT_HTTP_SETTINGS, HttpUpdateSource } from '../../agent/update-io/http-update-source.ts';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { openSlot } from '../../agent/slots/open-slot.ts';
import { makeSmallSlotsImage, tempDir } from '../builders/coreos-disk.ts';
import { MemoryBlockDevice } from '../fakes/memory-block-device.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import type { PayloadDescription } from '../../images/release-manifest.ts';
import type { BlockDevice } from '../../agent/slots/block-device.ts';
import type { ReleaseServer } from '../../qemu/release-server.ts';
import type { TempDir } from '../builders/coreos-disk.ts';

const skip = missingTools(SGDISK);
const CHUNK = 64 * 1024;
let dir: TempDir;
let server: ReleaseServer;
let payload: PayloadDescription;
let image: Buffer;
let disk: string;

/** Compressible but not trivial: random blocks repeated, 600 KiB, so it spans ten frames. */
function makeImage(): Buffer {
  const block = randomBytes(4096);
  return Buffer.concat(Array.from({ length: 150 }, (_, i) => (i % 3 === 0 ? randomBytes(4096) : block)));
}

beforeAll(async () => {
  if (skip !== null) return;
  dir = await tempDir();
  image = makeImage();
  await writeFile(join(dir.path, 'slot.img'), image);
  await mkdir(join(dir.path, 'www'));
  server = await startReleaseServer(join(dir.path, 'www'));
});
afterAll(async () => {
  if (skip !== null) return;
  await server.close();
  await dir.remove();
});

let counter = 0;
beforeEach(async () => {
  if (skip !== null) return;
  server.handle(null);
  server.requests.length = 0;
  disk = join(dir.path, `disk-${counter++}.img`);
  await makeSmallSlotsImage(disk);
});

const noWait = { now: () => new Date('2026-11-22T00:00:00Z'), sleep: () => Promise.resolve() };
const source = (): HttpUpdateSource => new HttpUpdateSource({ ...DEFAULT_HTTP_SETTINGS, idleTimeoutMs: 2_000, retries: 2 }, noWait, () => 0.5);

async function withSlot<T>(use: (slot: BlockDevice) => Promise<T>): Promise<T> {
  const slot = await openSlot(await FileBlockDevice.open(disk, { writable: true }), 'USR-B');
  try {
    return await use(slot);
  } finally {
    await slot.close();
  }
}

function apply(slot: BlockDevice, chunksDone = 0, progress: number[] = [], maxResumes = 3): Promise<string> {
  return applyPayload({
    payload,
    source: source().payloadSource(`${server.url}/payload.zst`),
    slot,
    chunksDone,
    maxResumes,
    // A report per frame: the tests follow every frame (the agent reports every commitEvery(payload) bytes).
    commitBytes: CHUNK,
    onProgress: (chunks) => {
      progress.push(chunks);
      return Promise.resolve();
    },
  });
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Small chunks, so each 64 KiB group of the test image holds several frames. */
const SMALL_CHUNKING = { minSize: 2048, avgSize: 8192, maxSize: 32 * 1024 };

// The same full apply on a fixed-frame payload (formats 1-3) and on a format-4 payload whose groups
// are one frame per content-defined chunk.
describe.skipIf(skip !== null).each(['fixed frames', 'content-defined frames'])(`${skip ?? ''} applying a payload of %s`, (kind) => {
  beforeAll(async () => {
    const cdc = kind === 'fixed frames' ? undefined : { chunking: SMALL_CHUNKING, indexPath: join(dir.path, 'payload.idx') };
    const { chunkIndex, ...compressed } = await compressImage(join(dir.path, 'slot.img'), join(dir.path, 'www', 'payload.zst'), CHUNK, 3, cdc);
    payload = { url: 'payload.zst', ...compressed };
    // The content-defined payload must really hold more frames than groups, or this proves nothing.
    if (cdc !== undefined) expect(chunkIndex?.chunkCount).toBeGreaterThan(payload.chunks.length * 3);
  });

  it('writes the image into the slot and returns the hash of what it wrote', async () => {
    const progress: number[] = [];
    const written = await withSlot((slot) => apply(slot, 0, progress));
    expect(written).toBe(sha256(image));
    expect(written).toBe(payload.imageSha256);
    expect(await withSlot((slot) => hashSlot(slot, image.length))).toBe(written);
    expect(progress).toEqual(Array.from({ length: payload.chunks.length }, (_, i) => i + 1));
  });

  /** Applies into memory; for each report, the frames it counts and the slot's last event before it. */
  async function reportsInMemory(commitBytes?: number): Promise<[number, string][]> {
    const slot = new MemoryBlockDevice(new Uint8Array(image.length + CHUNK));
    const reports: [number, string][] = [];
    await applyPayload({
      payload,
      source: source().payloadSource(`${server.url}/payload.zst`),
      slot,
      chunksDone: 0,
      maxResumes: 0,
      ...(commitBytes === undefined ? {} : { commitBytes }),
      onProgress: (chunks) => {
        reports.push([chunks, slot.events.at(-1)?.kind ?? 'none']);
        return Promise.resolve();
      },
    });
    return reports;
  }

  it('syncs each frame to the slot before reporting it done, so a power cut cannot lose recorded frames', async () => {
    const lastEventAtProgress = (await reportsInMemory(CHUNK)).map(([, event]) => event);
    expect(lastEventAtProgress).toEqual(payload.chunks.map(() => 'sync'));
  });

  it('reports (and syncs) frames together every eighth of a small image, and always the last frame', async () => {
    const reports = await reportsInMemory();
    // 600 KiB in ten 64 KiB frames: a report once 75 KiB were written since the last, so every other frame.
    expect(payload.chunks).toHaveLength(10);
    expect(commitEvery(payload)).toBe(76_800);
    expect(reports).toEqual([[2, 'sync'], [4, 'sync'], [6, 'sync'], [8, 'sync'], [10, 'sync']]);
  });

  it('reports every 16 MiB of a release image', () => {
    expect(commitEvery({ ...payload, imageSize: 202 * 1024 * 1024 })).toBe(16 * 1024 * 1024);
  });

  it('never touches bytes outside the slot', async () => {
    const before = await readFile(disk);
    const slot = await openSlot(await FileBlockDevice.open(disk, { writable: false }), 'USR-B');
    const start = (slot as unknown as { start: number }).start;
    await slot.close();
    await withSlot((s) => apply(s));
    const after = await readFile(disk);
    expect(Buffer.compare(after.subarray(0, start), before.subarray(0, start))).toBe(0);
    expect(Buffer.compare(after.subarray(start + 1024 * 1024), before.subarray(start + 1024 * 1024))).toBe(0);
  });

  it('resumes with a Range request after the connection resets mid-payload', async () => {
    let resets = 0;
    server.handle((_req, _res, serve) => serve(resets++ < 2 ? { resetAfter: payload.chunks[0]! + payload.chunks[1]! + 100 } : {}));
    expect(await withSlot((slot) => apply(slot))).toBe(sha256(image));
    const ranges = server.requests.map((r) => r.range);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toBe(`bytes=${payload.chunks[0]! + payload.chunks[1]!}-`);
    expect(ranges.length).toBe(3);
  });

  it('starts over, hashing from the first byte, when the server ignores Range', async () => {
    let calls = 0;
    server.handle((_req, _res, serve) => serve(calls++ === 0 ? { resetAfter: payload.chunks[0]! + 10 } : { ignoreRange: true }));
    expect(await withSlot((slot) => apply(slot))).toBe(sha256(image));
    expect(server.requests[1]?.range).toBe(`bytes=${payload.chunks[0]}-`);
  });

  it('finishes the job after the process died, re-hashing the frames already written', async () => {
    const progress: number[] = [];
    const cut = payload.chunks[0]! + payload.chunks[1]! + payload.chunks[2]! + 5;
    server.handle((_req, _res, serve) => serve({ resetAfter: cut }));
    await expect(withSlot((slot) => apply(slot, 0, progress, 0))).rejects.toThrow();
    // What the dead process had persisted: the frames it finished (bytes still in flight are lost).
    const persisted = progress.at(-1) ?? 0;
    expect(persisted).toBeGreaterThanOrEqual(1);
    server.handle(null);
    expect(await withSlot((slot) => apply(slot, persisted))).toBe(sha256(image));
    const offset = payload.chunks.slice(0, persisted).reduce((a, b) => a + b, 0);
    expect(server.requests.at(-1)?.range).toBe(`bytes=${offset}-`);
  });

  it('reports a flipped payload byte as a hash mismatch (or corrupt frame), never a valid image', async () => {
    const bytes = await readFile(join(dir.path, 'www', 'payload.zst'));
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] ?? 0) ^ 0x40;
    await writeFile(join(dir.path, 'www', 'flipped.zst'), bytes);
    const outcome = await withSlot((slot) =>
      applyPayload({ payload, source: source().payloadSource(`${server.url}/flipped.zst`), slot, chunksDone: 0, maxResumes: 1, onProgress: () => Promise.resolve() }),
    ).then((hash) => ({ hash }), (error: unknown) => ({ error }));
    if ('hash' in outcome) expect(outcome.hash).not.toBe(payload.imageSha256);
    else expect(['ERR_PAYLOAD_HASH_MISMATCH', 'ERR_PAYLOAD_CORRUPT']).toContain((outcome.error as { code?: string }).code);
  });

  it('refuses a frame zstd cannot decode as corrupt content, without waiting on the decoder or the connection', async () => {
    const bytes = await readFile(join(dir.path, 'www', 'payload.zst'));
    // The fourth frame's magic number overwritten: the decoder fails there, with frames still to come.
    const at = payload.chunks.slice(0, 3).reduce((a, b) => a + b, 0);
    bytes.fill(0xee, at, at + 8);
    await writeFile(join(dir.path, 'www', 'corrupt.zst'), bytes);
    // Slow, so the feeder is waiting on the connection (or on the decoder) when the decoder gives up.
    server.handle((_req, _res, serve) => serve({ throttle: { bytes: 16 * 1024, everyMs: 5 } }));
    const progress: number[] = [];
    const error = await withSlot((slot) =>
      applyPayload({ payload, source: source().payloadSource(`${server.url}/corrupt.zst`), slot, chunksDone: 0, maxResumes: 3, commitBytes: CHUNK, onProgress: (chunks) => { progress.push(chunks); return Promise.resolve(); } }),
    ).then(() => null, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_PAYLOAD_CORRUPT' });
    // Corrupt content is not resumed: one request, and only the frames before the bad one counted.
    expect(server.requests).toHaveLength(1);
    expect(Math.max(0, ...progress)).toBeLessThanOrEqual(3);
  });

  it('refuses a payload longer than declared', async () => {
    const bytes = await readFile(join(dir.path, 'www', 'payload.zst'));
    await writeFile(join(dir.path, 'www', 'long.zst'), Buffer.concat([bytes, Buffer.alloc(100, 1)]));
    await expect(
      withSlot((slot) => applyPayload({ payload, source: source().payloadSource(`${server.url}/long.zst`), slot, chunksDone: 0, maxResumes: 0, onProgress: () => Promise.resolve() })),
    ).rejects.toMatchObject({ code: 'ERR_PAYLOAD_TOO_LARGE' });
  });

  it('refuses a payload shorter than the signed length', async () => {
    const bytes = await readFile(join(dir.path, 'www', 'payload.zst'));
    await writeFile(join(dir.path, 'www', 'short.zst'), bytes.subarray(0, bytes.length - 500));
    await expect(
      withSlot((slot) => applyPayload({ payload, source: source().payloadSource(`${server.url}/short.zst`), slot, chunksDone: 0, maxResumes: 2, onProgress: () => Promise.resolve() })),
    ).rejects.toMatchObject({ code: 'ERR_HTTP' });
  });

  it('refuses a frame that decompresses to more than its chunk', async () => {
    const lying = { ...payload, chunkSize: CHUNK / 2, imageSize: payload.imageSize / 2, chunks: payload.chunks, size: payload.size };
    await expect(withSlot((slot) => applyPayload({ payload: lying, source: source().payloadSource(`${server.url}/payload.zst`), slot, chunksDone: 0, maxResumes: 0, onProgress: () => Promise.resolve() }))).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_TOO_LARGE',
    });
  });

  it('refuses an image larger than the slot before writing anything', async () => {
    const huge = { ...payload, imageSize: 5 * 1024 ** 3 };
    const before = await readFile(disk);
    await expect(withSlot((slot) => applyPayload({ payload: huge, source: source().payloadSource(`${server.url}/payload.zst`), slot, chunksDone: 0, maxResumes: 0, onProgress: () => Promise.resolve() }))).rejects.toMatchObject({
      code: 'ERR_SLOT_TOO_SMALL',
    });
    expect(Buffer.compare(await readFile(disk), before)).toBe(0);
    expect(server.requests).toHaveLength(0);
  });
});
