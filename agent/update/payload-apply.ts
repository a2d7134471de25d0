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

/** Where a connection's writes stand: whole chunks done, bytes into the current one, and the hash. */
interface Cursor {
  chunk: number;
  intoChunk: number;
  hash: Hash;
  /** The hash as it was at the last chunk boundary, restored when a connection breaks mid-chunk. */
  checkpoint: Hash;
}

/**
 * Streams the rest of the payload from one connection through ONE zstd decoder (the frames are
 * concatenated, so a decoder reads across them): a decoder per frame would hold a frame-sized
 * buffer each until the garbage collector got round to it, and memory would grow with the image.
 * Chunk boundaries are found by counting decompressed bytes.
 */
async function applyConnection(reader: ByteReader, options: ApplyOptions, cursor: Cursor): Promise<void> {
  const { payload, slot } = options;
  const inflater = createZstdDecompress();
  // An object, not a `let`: the feeder sets it from a callback, which narrowing cannot see.
  const input: { error: Error | null } = { error: null };
  const feed = (async () => {
    let left = payload.size - compressedOffset(payload, cursor.chunk);
    while (left > 0) {
      const piece = await reader.next(left);
      // A body that stops early is a broken connection: resumable, unlike bad content.
      if (!piece) throw new UpdateError('ERR_HTTP', `payload connection ended ${left} bytes early`);
      left -= piece.length;
      if (!inflater.write(piece)) await once(inflater, 'drain');
    }
    if (await reader.next(1)) throw new UpdateError('ERR_PAYLOAD_TOO_LARGE', `payload is longer than the ${payload.size} bytes the manifest declares`);
    inflater.end();
  })().catch((error: unknown) => {
    // Let the decoder flush what already arrived, so whole chunks in it still count; the
    // truncated frame it then complains about is this error, not bad content.
    input.error = error instanceof Error ? error : new UpdateError('ERR_HTTP', 'payload connection failed', { cause: error });
    inflater.end();
  });
  try {
    for await (let out of decompressed(inflater, () => input.error)) {
      while (out.length > 0) {
        if (cursor.chunk >= payload.chunks.length) {
          throw new UpdateError('ERR_PAYLOAD_TOO_LARGE', `payload decompresses to more than the ${payload.imageSize}-byte image; refusing to write past it`);
        }
        const piece = out.subarray(0, imageChunkSize(payload, cursor.chunk) - cursor.intoChunk);
        await slot.write(cursor.chunk * payload.chunkSize + cursor.intoChunk, piece);
        cursor.hash.update(piece);
        cursor.intoChunk += piece.length;
        out = out.subarray(piece.length);
        if (cursor.intoChunk === imageChunkSize(payload, cursor.chunk)) {
          cursor.chunk++;
          cursor.intoChunk = 0;
          cursor.checkpoint = cursor.hash.copy();
          // The frame must be on the disk before the record says it is: after a power cut the resume
          // re-hashes the recorded frames from the slot, and bytes lost from a cache would fail the
          // whole image's hash at the end (a wasted download counted as a failure).
          await slot.sync();
          await options.onProgress(cursor.chunk, Math.min(cursor.chunk * payload.chunkSize, payload.imageSize));
        }
      }
    }
  } finally {
    inflater.destroy();
    await feed;
  }
  if (input.error !== null) throw input.error;
  if (cursor.chunk !== payload.chunks.length) {
    throw new UpdateError('ERR_PAYLOAD_SIZE_MISMATCH', `payload decompressed to less than the ${payload.imageSize}-byte image`);
  }
}

/**
 * The inflater's output, with a zstd error turned into ours: corrupt content is not resumable. When
 * the input stopped because the connection broke, the decoder's complaint is that, not corruption.
 */
async function* decompressed(inflater: AsyncIterable<Buffer>, inputError: () => Error | null): AsyncGenerator<Buffer> {
  try {
    yield* inflater;
  } catch (error) {
    const broken = inputError();
    if (broken !== null) throw broken;
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
  const chunk = Math.min(options.chunksDone, payload.chunks.length);
  const hash = await rehashSlot(slot, chunk * payload.chunkSize);
  const cursor: Cursor = { chunk, intoChunk: 0, hash, checkpoint: hash.copy() };
  let resumes = 0;
  while (cursor.chunk < payload.chunks.length) {
    const offset = compressedOffset(payload, cursor.chunk);
    const { start, body } = await options.source.open(offset);
    if (start !== offset) {
      if (start !== 0) throw new UpdateError('ERR_HTTP', `asked for payload bytes from ${offset}, server sent from ${start}`);
      // The server ignored Range: start over, hashing from the first byte.
      const fresh = createHash('sha256');
      Object.assign(cursor, { chunk: 0, intoChunk: 0, hash: fresh, checkpoint: fresh.copy() });
    }
    const reader = new ByteReader(body);
    try {
      await applyConnection(reader, options, cursor);
    } catch (error) {
      await reader.close().catch(() => {});
      // Forget the torn chunk's bytes; they are written and hashed again on resume.
      Object.assign(cursor, { intoChunk: 0, hash: cursor.checkpoint, checkpoint: cursor.checkpoint.copy() });
      const resumable = !(error instanceof UpdateError) || error.code === 'ERR_HTTP' || error.code === 'ERR_HTTP_TIMEOUT';
      if (!resumable || ++resumes > options.maxResumes) throw error;
      options.onResume?.({ chunk: cursor.chunk, offset: compressedOffset(payload, cursor.chunk), cause: error });
    }
  }
  await slot.sync();
  return cursor.hash.digest('hex');
}

/** Reads the image back from the slot and hashes it: the final check before the slot may boot. */
export async function hashSlot(slot: BlockDevice, bytes: number): Promise<string> {
  return (await rehashSlot(slot, bytes)).digest('hex');
}
