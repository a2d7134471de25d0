// Content-defined chunking (FastCDC, Xia et al., USENIX ATC 2016): a gear rolling hash over the
// image picks cut points from the bytes themselves, so an insertion moves only the chunks around
// it. The publisher cuts a release with it; the agent cuts its booted slot the same way to find
// chunks it already has. Both sides must agree bit for bit: the parameters travel in the index.

import { createHash } from 'node:crypto';

export interface ChunkingParameters {
  readonly minSize: number;
  readonly avgSize: number;
  readonly maxSize: number;
}

/**
 * 16/64/256 KiB: casync's and desync's defaults, and the measured choice here (docs/delta.md):
 * smaller chunks found a little more of a changed squashfs, but cost index size and requests.
 */
export const DEFAULT_CHUNKING: ChunkingParameters = { minSize: 16 * 1024, avgSize: 64 * 1024, maxSize: 256 * 1024 };

/** 256 fixed 32-bit values from SHA-256, so every build of publisher and agent has the same table. */
const GEAR: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) table[i] = createHash('sha256').update(`slipway gear ${i}`).digest().readUInt32LE(0);
  return table;
})();

/** The top `bits` bits of a 32-bit hash: with a shift-left gear hash they depend on the last 32 bytes. */
function topBits(bits: number): number {
  return (~0 << (32 - bits)) | 0;
}

/** Why the parameters cannot be used (naming the field), or null. */
export function chunkingProblem(p: ChunkingParameters): string | null {
  const power = (n: number): boolean => Number.isSafeInteger(n) && n >= 64 && (n & (n - 1)) === 0;
  if (!power(p.avgSize) || p.avgSize > 1 << 24) return `avgSize must be a power of two from 64 to 16 MiB, got ${p.avgSize}`;
  if (!Number.isSafeInteger(p.minSize) || p.minSize < 1 || p.minSize > p.avgSize) return `minSize must be from 1 to avgSize, got ${p.minSize}`;
  if (!Number.isSafeInteger(p.maxSize) || p.maxSize < p.avgSize || p.maxSize > 1 << 24) return `maxSize must be from avgSize to 16 MiB, got ${p.maxSize}`;
  return null;
}

/**
 * The lengths of the chunks of `bytes`, in order; they add up to its length. The normalized
 * chunking of FastCDC: a stricter mask before the average size and a looser one after, so
 * sizes cluster around the average.
 */
export function chunkLengths(bytes: Uint8Array, p: ChunkingParameters): number[] {
  const bits = Math.log2(p.avgSize);
  const strict = topBits(bits + 2);
  const loose = topBits(Math.max(1, bits - 2));
  const lengths: number[] = [];
  for (let start = 0; start < bytes.length; ) {
    const left = bytes.length - start;
    if (left <= p.minSize) {
      lengths.push(left);
      break;
    }
    const end = start + Math.min(left, p.maxSize);
    const normal = start + Math.min(left, p.avgSize);
    let hash = 0;
    let at = start + p.minSize;
    let cut = end;
    for (; at < normal; at++) {
      hash = ((hash << 1) + (GEAR[bytes[at] as number] as number)) | 0;
      if ((hash & strict) === 0) {
        cut = at + 1;
        break;
      }
    }
    if (cut === end) {
      for (; at < end; at++) {
        hash = ((hash << 1) + (GEAR[bytes[at] as number] as number)) | 0;
        if ((hash & loose) === 0) {
          cut = at + 1;
          break;
        }
      }
    }
    lengths.push(cut - start);
    start = cut;
  }
  return lengths;
}
