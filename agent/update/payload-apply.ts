// Writes a release payload into a slot in one streaming pass: HTTP body -> zstd frame by frame ->
// SHA-256 -> the slot, with memory bounded by one frame's buffers whatever the image size. A broken
// connection resumes at the next whole frame with an HTTP Range request; a restart resumes from the
// persisted frame count by re-hashing what the slot already holds.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createZstdDecompress } from 'node:zlib';
import { UpdateError } from './update-errors.ts';
import type { Hash } from 'node:crypto';
import type { BlockDevice } from '../slots/block-device.ts';
import type { PayloadDescription } from '../../images/release-manifest.ts';

/** Where payload bytes come from: the bytes from `offset` on, or from 0 when Range was ignored. */
export interface PayloadSource {
  open(offset: number): Promise<{ readonly start: number; readonly body: AsyncIterable<Uint8Array> }>;
}

export interface ApplyOptions {
  readonly payload: PayloadDescription;
  readonly source: PayloadSource;
  readonly slot: BlockDevice;
  /** Frames already in the slot from an interrupted run (0 for a fresh start). */
  readonly chunksDone: number;
  readonly onProgress: (chunksDone: number, bytesDone: number) => Promise<void>;
  /** How many times a broken connection is resumed before giving up. */
  readonly maxResumes: number;
  readonly onResume?: (at: { chunk: number; offset: number; cause: unknown }) => void;
}

const REHASH_PIECE = 1024 * 1024;

/** Takes bytes from an async iterable in pieces of at most n, keeping what is left over. */
class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private pending: Uint8Array | null = null;

  constructor(body: AsyncIterable<Uint8Array>) {
    this.iterator = body[Symbol.asyncIterator]();
  }

  async next(max: number): Promise<Uint8Array | null> {
    if (!this.pending) {
      const result: IteratorResult<Uint8Array> = await this.iterator.next();
      if (result.done) return null;
      this.pending = result.value;
    }
    const piece = this.pending.subarray(0, max);
    this.pending = this.pending.length > max ? this.pending.subarray(max) : null;
    return piece;
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}

export function imageChunkSize(payload: PayloadDescription, chunk: number): number {
  return Math.min(payload.chunkSize, payload.imageSize - chunk * payload.chunkSize);
}

function compressedOffset(payload: PayloadDescription, chunk: number): number {
  return payload.chunks.slice(0, chunk).reduce((sum, size) => sum + size, 0);
}

/** Decompresses exactly one frame's compressed bytes into the slot at `at`; returns bytes written. */
async function applyChunk(reader: ByteReader, compressed: number, expected: number, at: number, slot: BlockDevice, hash: Hash): Promise<number> {
  const inflater = createZstdDecompress();
  const feed = (async () => {
    let left = compressed;
    while (left > 0) {
      const piece = await reader.next(left);
      // A body that stops early is a broken connection: resumable, unlike bad content.
      if (!piece) throw new UpdateError('ERR_HTTP', `payload connection ended ${left} bytes early inside a frame`);
      left -= piece.length;
      if (!inflater.write(piece)) await once(inflater, 'drain');
    }
    inflater.end();
  })().catch((error: unknown) => {
    inflater.destroy(error as Error);
  });
  let written = 0;
  try {
    for await (const out of decompressed(inflater)) {
      if (written + out.length > expected) {
        throw new UpdateError('ERR_PAYLOAD_TOO_LARGE', `a frame decompresses to more than its ${expected} bytes; refusing to write past it`);
      }
      await slot.write(at + written, out);
      hash.update(out);
      written += out.length;
    }
  } finally {
    inflater.destroy();
    await feed;
  }
  if (written !== expected) throw new UpdateError('ERR_PAYLOAD_SIZE_MISMATCH', `a frame decompressed to ${written} bytes, expected ${expected}`);
  return written;
}

/** The inflater's output, with a zstd error turned into ours: corrupt content is not resumable. */
async function* decompressed(inflater: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  try {
    yield* inflater;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && /^(ZSTD_error|Z_)/.test(code)) {
      throw new UpdateError('ERR_PAYLOAD_HASH_MISMATCH', `payload is corrupt: zstd could not decompress it`, { cause: error });
    }
    throw error;
  }
}

/** Hashes the first `bytes` of the slot through one reused buffer, so memory stays flat. */
async function rehashSlot(slot: BlockDevice, bytes: number): Promise<Hash> {
  const hash = createHash('sha256');
  const buffer = new Uint8Array(Math.min(REHASH_PIECE, Math.max(bytes, 1)));
  for (let at = 0; at < bytes; at += REHASH_PIECE) {
    const piece = buffer.subarray(0, Math.min(REHASH_PIECE, bytes - at));
    await slot.readInto(at, piece);
    hash.update(piece);
  }
  return hash;
}

/** Returns the SHA-256 (hex) of the image bytes written, which the caller compares with the manifest. */
export async function applyPayload(options: ApplyOptions): Promise<string> {
  const { payload, slot } = options;
  if (payload.imageSize > slot.size) {
    throw new UpdateError('ERR_SLOT_TOO_SMALL', `image of ${payload.imageSize} bytes does not fit ${slot.path} (${slot.size} bytes)`);
  }
  let chunk = Math.min(options.chunksDone, payload.chunks.length);
  let hash = await rehashSlot(slot, chunk * payload.chunkSize);
  let resumes = 0;
  while (chunk < payload.chunks.length) {
    const offset = compressedOffset(payload, chunk);
    const { start, body } = await options.source.open(offset);
    if (start !== offset) {
      if (start !== 0) throw new UpdateError('ERR_HTTP', `asked for payload bytes from ${offset}, server sent from ${start}`);
      chunk = 0; // the server ignored Range: start over, hashing from the first byte
      hash = createHash('sha256');
    }
    const reader = new ByteReader(body);
    try {
      while (chunk < payload.chunks.length) {
        const checkpoint = hash.copy();
        const size = payload.chunks[chunk] ?? 0;
        try {
          await applyChunk(reader, size, imageChunkSize(payload, chunk), chunk * payload.chunkSize, slot, hash);
        } catch (error) {
          hash = checkpoint; // forget the torn frame's bytes; they are written again on resume
          throw error;
        }
        chunk++;
        await options.onProgress(chunk, Math.min(chunk * payload.chunkSize, payload.imageSize));
      }
      if (await reader.next(1)) throw new UpdateError('ERR_PAYLOAD_TOO_LARGE', `payload is longer than the ${payload.size} bytes the manifest declares`);
    } catch (error) {
      await reader.close().catch(() => {});
      const resumable = !(error instanceof UpdateError) || error.code === 'ERR_HTTP' || error.code === 'ERR_HTTP_TIMEOUT';
      if (!resumable || ++resumes > options.maxResumes) throw error;
      options.onResume?.({ chunk, offset: compressedOffset(payload, chunk), cause: error });
    }
  }
  await slot.sync();
  return hash.digest('hex');
}

/** Reads the image back from the slot and hashes it: the final check before the slot may boot. */
export async function hashSlot(slot: BlockDevice, bytes: number): Promise<string> {
  return (await rehashSlot(slot, bytes)).digest('hex');
}
