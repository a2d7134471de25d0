// The chunk index round-trips, and hostile content is refused with the field named; the chunker
// finds the same chunks after an insertion, which is what a delta update lives on.

import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { parseChunkIndex, serializeChunkIndex, INDEX_ENTRY_BYTES, INDEX_HEADER_BYTES } from './chunk-index.ts';
import { chunkLengths, DEFAULT_CHUNKING } from './content-chunker.ts';
import type { ChunkIndex } from './chunk-index.ts';

const CHUNKING = { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 };
const HASH = 'ab'.repeat(32);

/** Two groups of 8192 bytes, two chunks each. */
function index(): ChunkIndex {
  const chunks = [3000, 5192, 4096, 4096].map((length, i, all) => {
    const before = all.slice(0, i).reduce((a, b) => a + b, 0);
    return { imageOffset: before, length, payloadOffset: i * 100, payloadLength: 100, sha256: HASH };
  });
  return { chunking: CHUNKING, imageSize: 16_384, payloadSize: 400, chunks };
}
const expectation = { imageSize: 16_384, size: 400, chunkSize: 8192, chunks: [200, 200] };
const entry = (i: number, field: number): number => INDEX_HEADER_BYTES + i * INDEX_ENTRY_BYTES + field;

describe('chunk index', () => {
  it('reads back what was written', () => {
    expect(parseChunkIndex(serializeChunkIndex(index()), expectation, 'test')).toEqual(index());
  });

  const cases: [string, (b: Buffer) => void, RegExp][] = [
    ['a wrong magic', (b) => b.write('NOTANIDX', 0, 'latin1'), /magic/],
    ['a count the size does not hold', (b) => b.writeUInt32LE(5, 8), /count 5 does not match/],
    ['a count of zero', (b) => b.writeUInt32LE(0, 8), /count must be from 1/],
    ['chunking that is not a power of two', (b) => b.writeUInt32LE(5000, 16), /chunking avgSize/],
    ['an image size the manifest does not sign', (b) => b.writeBigUInt64LE(16_385n, 24), /imageSize is 16385/],
    ['a gap between chunks', (b) => b.writeBigUInt64LE(3001n, entry(1, 0)), /chunk 1 imageOffset is 3001/],
    ['overlapping frames', (b) => b.writeBigUInt64LE(50n, entry(1, 12)), /chunk 1 payloadOffset is 50/],
    ['a chunk longer than maxSize', (b) => b.writeUInt32LE(70_000, entry(0, 8)), /chunk 0 length must be from 1/],
    ['a frame far larger than its chunk', (b) => b.writeUInt32LE(1 << 30, entry(3, 20)), /chunk 3 payloadLength/],
    ['a chunk across a group end', (b) => { b.writeUInt32LE(5193, entry(1, 8)); }, /chunk 1 length runs past the end of payload group 0/],
  ];
  it.each(cases)('refuses %s, naming the field', (_name, spoil, message) => {
    const bytes = Buffer.from(serializeChunkIndex(index()));
    spoil(bytes);
    expect(() => parseChunkIndex(bytes, expectation, 'test')).toThrow(message);
  });

  it('refuses frames that do not add up to the manifest groups', () => {
    expect(() => parseChunkIndex(serializeChunkIndex(index()), { ...expectation, chunks: [150, 250] }, 'test')).toThrow(/payload group 0 at 200 compressed bytes/);
  });
});

describe('content-defined chunking', () => {
  it('cuts within the bounds and finds the same chunks after bytes are inserted', () => {
    const data = randomBytes(4 * 1024 * 1024);
    const before = chunkLengths(data, DEFAULT_CHUNKING);
    expect(before.reduce((a, b) => a + b, 0)).toBe(data.length);
    expect(Math.max(...before)).toBeLessThanOrEqual(DEFAULT_CHUNKING.maxSize);
    expect(Math.min(...before.slice(0, -1))).toBeGreaterThanOrEqual(DEFAULT_CHUNKING.minSize);
    const edited = Buffer.concat([data.subarray(0, 1_000_000), randomBytes(777), data.subarray(1_000_000)]);
    const ends = (lengths: number[], shift: number): Set<number> => {
      const out = new Set<number>();
      let at = 0;
      for (const l of lengths) out.add((at += l) - shift);
      return out;
    };
    const old = ends(before, 0);
    const after = [...ends(chunkLengths(edited, DEFAULT_CHUNKING), 777)].filter((end) => end > 1_300_000);
    // Past the edit, every cut point is where it was, shifted by the insertion.
    expect(after.length).toBeGreaterThan(20);
    expect(after.every((end) => old.has(end))).toBe(true);
  });
});
