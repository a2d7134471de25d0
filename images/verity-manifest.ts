// The `verity` object a signed manifest may carry (format 3): the slot image's dm-verity root hash,
// salt and layout, and its checks. Where the tree sits in the image is images/verity-image.ts.

import { VERITY_BLOCK } from '../platform/verity/verity-tree.ts';
import { verityAreaSize } from '../platform/verity/verity-check.ts';

export interface VerityDescription {
  /** SHA-256 root of the tree, 64 lower-case hex digits. */
  readonly rootHash: string;
  /** Lower-case hex, at most 256 bytes (veritysetup's limit); the superblock holds the same. */
  readonly salt: string;
  /** Bytes of filesystem the tree covers, from byte 0 of the image: whole 4096-byte blocks. */
  readonly dataSize: number;
  /** Where the hash area (veritysetup's superblock first) starts in the image; slipway writes dataSize. */
  readonly hashOffset: number;
  readonly algorithm: 'sha256';
  readonly blockSize: typeof VERITY_BLOCK;
}

const FIELDS = new Set(['rootHash', 'salt', 'dataSize', 'hashOffset', 'algorithm', 'blockSize']);

/**
 * Why `value` is not a verity description that fits an image of `imageSize` bytes, naming the field;
 * null when it is. Unknown fields are refused: inside `verity`, a field an agent ignored could change
 * what is verified.
 */
export function verityProblem(value: unknown, imageSize: number): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'verity must be an object';
  const v = value as Record<string, unknown>;
  const unknown = Object.keys(v).find((key) => !FIELDS.has(key));
  if (unknown !== undefined) return `verity.${unknown} is not a field of format 3`;
  if (typeof v.rootHash !== 'string' || !/^[0-9a-f]{64}$/.test(v.rootHash)) return 'verity.rootHash must be 64 lower-case hex digits';
  if (typeof v.salt !== 'string' || !/^([0-9a-f]{2}){0,256}$/.test(v.salt)) return 'verity.salt must be lower-case hex of at most 256 bytes';
  if (v.algorithm !== 'sha256') return `verity.algorithm must be "sha256", got ${JSON.stringify(v.algorithm)}`;
  if (v.blockSize !== VERITY_BLOCK) return `verity.blockSize must be ${VERITY_BLOCK}, got ${JSON.stringify(v.blockSize)}`;
  const dataSize = v.dataSize;
  if (!Number.isSafeInteger(dataSize) || (dataSize as number) <= 0 || (dataSize as number) % VERITY_BLOCK !== 0) {
    return `verity.dataSize must be a positive multiple of ${VERITY_BLOCK}, got ${JSON.stringify(dataSize)}`;
  }
  const hashOffset = v.hashOffset;
  if (!Number.isSafeInteger(hashOffset) || (hashOffset as number) % VERITY_BLOCK !== 0 || (hashOffset as number) < (dataSize as number)) {
    return `verity.hashOffset must be a multiple of ${VERITY_BLOCK} at or after verity.dataSize, got ${JSON.stringify(hashOffset)}`;
  }
  const end = (hashOffset as number) + verityAreaSize(dataSize as number);
  if (end > imageSize) return `verity's hash area ends at byte ${end}, past the ${imageSize}-byte image (payload.imageSize), where the image's hash would not cover it`;
  return null;
}
