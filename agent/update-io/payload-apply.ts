// Writes a release payload into a slot in one streaming pass (the full download; a delta update is
// delta-apply.ts, which falls back to this): HTTP body -> zstd frame by frame ->
// SHA-256 -> the slot, with memory bounded by one frame's buffers whatever the image size. A broken
// connection resumes at the next whole frame with an HTTP Range request; a restart resumes from the
// persisted frame count by re-hashing what the slot already holds.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createZstdDecompress } from 'node:zlib';
import { UpdateError } from '../update/update-errors.ts';
import { splitZstdFrames } from '../../images/zstd-frames.ts';
import { ByteReader, readExactly } from './byte-reader.ts';
import type { Hash } from 'node:crypto';
import type { BlockDevice } from '../slots/block-device.ts';
import type { PayloadDescription } from '../../images/release-manifest.ts';
import type { PayloadWriter, WriteOptions } from '../update/payload-writer.ts';

export type ApplyOptions = WriteOptions;

/**
 * Each report costs a flush of the slot and a flushed write of the state record: per 4 MiB frame, 100
 * flushes per 200 MiB release. Reports come every 16 MiB, or every eighth of a smaller image, so a
 * power cut costs at most that much downloaded again.
 */
export function commitEvery(payload: PayloadDescription): number {
  return Math.min(16 * 1024 * 1024, Math.ceil(payload.imageSize / 8));
}

const REHASH_PIECE = 1024 * 1024;
/**
 * How much the zstd decoder hands over at a time. Node's default, 16 KiB, made a 200 MiB image 13,000
 * awaited writes and hash updates: npm run bench:apply went from 82 to 143 MB/s with 1 MiB.
 */
const DECODED_PIECE = 1024 * 1024;

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
  /** Image bytes in whole chunks written since the last report. */
  unreported: number;
}

/**
 * Streams the rest of the payload from one connection through ONE zstd decoder (the frames are
 * concatenated, so a decoder reads across them): a decoder per frame would hold a frame-sized
 * buffer each until the garbage collector got round to it, and memory would grow with the image.
 * The decoder is given whole frames, one per write: when one write held a frame's end and more,
 * Node's zstd stream dropped the rest (nodejs/node#64741), and when a connection broke mid-frame,
 * the truncated frame's error destroyed the stream before it handed over the whole frames before
 * it. A frame's compressed bytes (at most about a chunk) are the memory this costs. Chunk
 * boundaries in the output are found by counting decompressed bytes.
 */
async function applyConnection(reader: ByteReader, options: ApplyOptions, cursor: Cursor): Promise<void> {
  const { payload, slot } = options;
  const inflater = createZstdDecompress({ chunkSize: DECODED_PIECE });
  // An object, not a `let`: the feeder sets it from a callback, which narrowing cannot see.
  const input: { error: Error | null } = { error: null };
  // Aborted once the writing side is done, well or not: a feeder waiting for 'drain' from a decoder
  // that failed on a corrupt frame (and so never drains) would otherwise wait for ever.
  const stop = new AbortController();
  const feed = (async () => {
    for (let frame = cursor.chunk; frame < payload.chunks.length; frame++) {
      const size = payload.chunks[frame] ?? 0;
      const whole = await readExactly(reader, size);
      if (stop.signal.aborted || inflater.destroyed) return;
      if (whole === null) {
        // A body that stops early is a broken connection: resumable, unlike bad content.
        const left = payload.size - compressedOffset(payload, frame);
        throw new UpdateError('ERR_HTTP', `payload connection ended within frame ${frame}, up to ${left} bytes early`);
      }
      // A group of a format-4 payload is one frame per content-defined chunk: each its own write.
      // Bytes that are not whole frames go in as they are, for the decoder to call corrupt.
      for (const one of splitZstdFrames(whole) ?? [whole]) {
        // The decoder's own error reaches the writing side through its output, not through here.
        if (!inflater.write(one)) await once(inflater, 'drain', { signal: stop.signal }).catch(() => undefined);
        if (stop.signal.aborted || inflater.destroyed) return;
      }
    }
    if (stop.signal.aborted || inflater.destroyed) return;
    if (await reader.next(1)) throw new UpdateError('ERR_PAYLOAD_TOO_LARGE', `payload is longer than the ${payload.size} bytes the manifest declares`);
    inflater.end();
  })().catch((error: unknown) => {
    // Reads cut short by the writing side giving up are not the connection's fault.
    if (stop.signal.aborted) return;
    // The decoder holds only whole frames: ending it hands them all over, and they still count.
    // got's read errors (a reset, an aborted body) are the connection's: ERR_HTTP, so they are judged as transport.
    input.error = error instanceof UpdateError ? error : new UpdateError('ERR_HTTP', 'payload connection failed', { cause: error });
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
          cursor.unreported += cursor.intoChunk;
          cursor.chunk++;
          cursor.intoChunk = 0;
          cursor.checkpoint = cursor.hash.copy();
          if (cursor.unreported >= (options.commitBytes ?? commitEvery(payload)) || cursor.chunk === payload.chunks.length) {
            // The frames must be on the disk before the record says they are: after a power cut the
            // resume re-hashes the recorded frames from the slot, and bytes lost from a cache would
            // fail the whole image's hash at the end (a wasted download counted as a failure).
            await slot.sync();
            cursor.unreported = 0;
            await options.onProgress(cursor.chunk, Math.min(cursor.chunk * payload.chunkSize, payload.imageSize));
          }
        }
      }
    }
  } finally {
    stop.abort();
    inflater.destroy();
    reader.destroy();
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
      throw new UpdateError('ERR_PAYLOAD_CORRUPT', `payload is corrupt: zstd could not decompress it`, { cause: error });
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
  const cursor: Cursor = { chunk, intoChunk: 0, hash, checkpoint: hash.copy(), unreported: 0 };
  let resumes = 0;
  while (cursor.chunk < payload.chunks.length) {
    const offset = compressedOffset(payload, cursor.chunk);
    const { start, body } = await options.source.open(offset);
    if (start !== offset) {
      if (start !== 0) throw new UpdateError('ERR_HTTP', `asked for payload bytes from ${offset}, server sent from ${start}`);
      // The server ignored Range: start over, hashing from the first byte.
      const fresh = createHash('sha256');
      Object.assign(cursor, { chunk: 0, intoChunk: 0, hash: fresh, checkpoint: fresh.copy(), unreported: 0 });
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

/** The PayloadWriter port on zstd frames. */
export const zstdPayloadWriter: PayloadWriter = { write: applyPayload, hash: hashSlot };
