// The chunk index published beside a format-4 payload (<payload>.chunks.idx): for each content-
// defined chunk of the image, where it sits in the image and in the payload and the SHA-256 of its
// bytes. Its own SHA-256 and size are signed in the manifest; its content is still checked field by
// field, because a signed mistake must not send the agent reading or writing out of bounds.
//
// Binary, little-endian (docs/delta.md):
//   header (40 bytes): "SLWYCIX1", u32 count, u32 minSize, u32 avgSize, u32 maxSize, u64 imageSize, u64 payloadSize
//   count entries (56 bytes each): u64 imageOffset, u32 length, u64 payloadOffset, u32 payloadLength, sha256[32]

import { chunkingProblem } from './content-chunker.ts';
import { ManifestError } from './manifest-error.ts';
import type { ChunkingParameters } from './content-chunker.ts';

export const INDEX_MAGIC = 'SLWYCIX1';
export const INDEX_HEADER_BYTES = 40;
export const INDEX_ENTRY_BYTES = 56;
/** 2^22 chunks: a 64 GiB image of 16 KiB chunks. The index is read into memory whole, so it is bounded. */
export const MAX_INDEX_CHUNKS = 1 << 22;

export interface IndexedChunk {
  readonly imageOffset: number;
  readonly length: number;
  readonly payloadOffset: number;
  readonly payloadLength: number;
  /** 64 lower-case hex digits. */
  readonly sha256: string;
}

export interface ChunkIndex {
  readonly chunking: ChunkingParameters;
  readonly imageSize: number;
  readonly payloadSize: number;
  readonly chunks: readonly IndexedChunk[];
}

export function serializeChunkIndex(index: ChunkIndex): Uint8Array {
  const out = Buffer.alloc(INDEX_HEADER_BYTES + index.chunks.length * INDEX_ENTRY_BYTES);
  out.write(INDEX_MAGIC, 0, 'latin1');
  out.writeUInt32LE(index.chunks.length, 8);
  out.writeUInt32LE(index.chunking.minSize, 12);
  out.writeUInt32LE(index.chunking.avgSize, 16);
  out.writeUInt32LE(index.chunking.maxSize, 20);
  out.writeBigUInt64LE(BigInt(index.imageSize), 24);
  out.writeBigUInt64LE(BigInt(index.payloadSize), 32);
  index.chunks.forEach((c, i) => {
    const at = INDEX_HEADER_BYTES + i * INDEX_ENTRY_BYTES;
    out.writeBigUInt64LE(BigInt(c.imageOffset), at);
    out.writeUInt32LE(c.length, at + 8);
    out.writeBigUInt64LE(BigInt(c.payloadOffset), at + 12);
    out.writeUInt32LE(c.payloadLength, at + 20);
    out.write(c.sha256, at + 24, 'hex');
  });
  return out;
}

/** What the index must agree with: the signed manifest's payload. */
export interface IndexExpectation {
  readonly imageSize: number;
  readonly size: number;
  /** Image bytes per payload group: no chunk may straddle a group's end. */
  readonly chunkSize: number;
  /** Compressed bytes of each group, which the chunks' frames must add up to. */
  readonly chunks: readonly number[];
}

/**
 * Parses and checks every field against the manifest: offsets contiguous from 0 on both sides,
 * lengths within the chunking bounds, the sums those the manifest signs. The error names the field.
 * With no manifest to hold it to (`expect` null: an earlier release's index, used only as a hint of
 * where chunks are), the same checks but those against the manifest and its groups.
 */
export function parseChunkIndex(bytes: Uint8Array, expected: IndexExpectation | null, source: string): ChunkIndex {
  const fail = (field: string, problem: string): never => {
    throw new ManifestError(`chunk index from ${source}: ${field} ${problem}`);
  };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < INDEX_HEADER_BYTES || buf.toString('latin1', 0, 8) !== INDEX_MAGIC) fail('magic', `must be ${INDEX_MAGIC}`);
  const count = buf.readUInt32LE(8);
  if (count === 0 || count > MAX_INDEX_CHUNKS) fail('count', `must be from 1 to ${MAX_INDEX_CHUNKS}, got ${count}`);
  if (buf.length !== INDEX_HEADER_BYTES + count * INDEX_ENTRY_BYTES) fail('count', `${count} does not match the index's ${buf.length} bytes`);
  const chunking = { minSize: buf.readUInt32LE(12), avgSize: buf.readUInt32LE(16), maxSize: buf.readUInt32LE(20) };
  const problem = chunkingProblem(chunking);
  if (problem !== null) fail('chunking', problem);
  const imageSize = Number(buf.readBigUInt64LE(24));
  const payloadSize = Number(buf.readBigUInt64LE(32));
  // Without a manifest, one group the size of the image: no chunk may still run past its end.
  const expect = expected ?? { imageSize, size: payloadSize, chunkSize: Math.max(imageSize, 1), chunks: [payloadSize] };
  if (imageSize !== expect.imageSize) fail('imageSize', `is ${imageSize}, the manifest's payload.imageSize is ${expect.imageSize}`);
  if (payloadSize !== expect.size) fail('payloadSize', `is ${payloadSize}, the manifest's payload.size is ${expect.size}`);
  const chunks: IndexedChunk[] = [];
  let image = 0;
  let payload = 0;
  let group = 0;
  let groupBytes = 0;
  for (let i = 0; i < count; i++) {
    const at = INDEX_HEADER_BYTES + i * INDEX_ENTRY_BYTES;
    const imageOffset = Number(buf.readBigUInt64LE(at));
    const length = buf.readUInt32LE(at + 8);
    const payloadOffset = Number(buf.readBigUInt64LE(at + 12));
    const payloadLength = buf.readUInt32LE(at + 20);
    if (imageOffset !== image) fail(`chunk ${i} imageOffset`, `is ${imageOffset}, must follow the previous chunk at ${image}`);
    if (payloadOffset !== payload) fail(`chunk ${i} payloadOffset`, `is ${payloadOffset}, must follow the previous frame at ${payload}`);
    if (length < 1 || length > chunking.maxSize) fail(`chunk ${i} length`, `must be from 1 to maxSize ${chunking.maxSize}, got ${length}`);
    // zstd's worst case for incompressible input is a little over the input: a frame far larger is no chunk's.
    if (payloadLength < 9 || payloadLength > length + (length >> 7) + 512) fail(`chunk ${i} payloadLength`, `${payloadLength} is out of bounds for a ${length}-byte chunk`);
    const groupEnd = Math.min((group + 1) * expect.chunkSize, expect.imageSize);
    if (imageOffset + length > groupEnd) fail(`chunk ${i} length`, `runs past the end of payload group ${group} at ${groupEnd}`);
    image += length;
    payload += payloadLength;
    groupBytes += payloadLength;
    if (image === groupEnd) {
      if (groupBytes !== expect.chunks[group]) fail(`chunk ${i}`, `ends payload group ${group} at ${groupBytes} compressed bytes, the manifest's payload.chunks says ${expect.chunks[group]}`);
      group++;
      groupBytes = 0;
    }
    chunks.push({ imageOffset, length, payloadOffset, payloadLength, sha256: buf.toString('hex', at + 24, at + 56) });
  }
  if (image !== imageSize) fail('chunks', `cover ${image} bytes of the ${imageSize}-byte image`);
  if (payload !== payloadSize) fail('chunks', `cover ${payload} bytes of the ${payloadSize}-byte payload`);
  return { chunking, imageSize, payloadSize, chunks };
}
