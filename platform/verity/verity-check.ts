// Checks a dm-verity hash area against a trusted root hash, top down, streaming: the top hash block
// against the root, each level's blocks against the level above (already trusted), then every data
// block against level 0. Memory: one read piece, whatever the image size. The first mismatch names
// exactly what is bad, because everything above it was checked first.

import { createHash } from 'node:crypto';
import { VERITY_BLOCK, verityLayout } from './verity-tree.ts';

const DIGEST = 32;
/** Blocks hashed per read: 1 MiB. */
const PIECE_BLOCKS = 256;

/** Reads exactly `into.length` bytes at `offset` (a block device, a file). */
export type ReadAt = (offset: number, into: Uint8Array) => Promise<void>;

export interface VerityExpectation {
  /** Trusted: from a verified manifest, or recorded by the agent from one. */
  readonly rootHash: string;
  /** Where the hash area (the superblock first) starts; data is everything before, from byte 0. */
  readonly hashOffset: number;
  /** When known from a trusted source; otherwise the superblock's (bound by the root hash). */
  readonly dataSize?: number;
  readonly salt?: string;
}

export type VerityProblem = 'superblock' | 'hash' | 'data' | 'root';

export type VerityCheck =
  | { readonly ok: true; readonly dataBlocks: number; readonly salt: string }
  /** `block`: the data block (problem "data") or the hash block counted from the superblock (problem "hash"). */
  | { readonly ok: false; readonly problem: VerityProblem; readonly block: number; readonly offset: number; readonly message: string };

export interface VeritySuperblockFields {
  readonly dataBlocks: number;
  readonly salt: string;
  readonly uuid: string;
}

/** The superblock's fields, or why they are not the format 1 sha256/4096 superblock slipway writes. */
export function parseVeritySuperblock(bytes: Uint8Array): VeritySuperblockFields | string {
  const sb = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (sb.length < 512 || sb.toString('latin1', 0, 8) !== 'verity\0\0') return 'no verity superblock (signature "verity")';
  if (sb.readUInt32LE(8) !== 1) return `superblock version ${sb.readUInt32LE(8)}, not 1`;
  if (sb.readUInt32LE(12) !== 1) return `hash type ${sb.readUInt32LE(12)}, not 1 (salt first)`;
  const algorithm = sb.toString('latin1', 32, 64).replace(/\0+$/, '');
  if (algorithm !== 'sha256') return `hash algorithm ${JSON.stringify(algorithm)}, not sha256`;
  if (sb.readUInt32LE(64) !== VERITY_BLOCK || sb.readUInt32LE(68) !== VERITY_BLOCK) return `block sizes ${sb.readUInt32LE(64)}/${sb.readUInt32LE(68)}, not ${VERITY_BLOCK}`;
  const dataBlocks = sb.readBigUInt64LE(72);
  if (dataBlocks === 0n || dataBlocks > BigInt(Number.MAX_SAFE_INTEGER) / BigInt(VERITY_BLOCK)) return `data blocks ${dataBlocks} out of range`;
  const saltSize = sb.readUInt16LE(80);
  if (saltSize > 256) return `salt of ${saltSize} bytes, more than 256`;
  return { dataBlocks: Number(dataBlocks), salt: sb.toString('hex', 88, 88 + saltSize), uuid: sb.toString('hex', 16, 32) };
}

function blockHash(salt: Buffer, block: Uint8Array): Buffer {
  return createHash('sha256').update(salt).update(block).digest();
}

/** Checks the data and hash area read through `read` against `expected`; a value, not a throw, for any mismatch. */
export async function checkVerity(read: ReadAt, expected: VerityExpectation): Promise<VerityCheck> {
  const { hashOffset } = expected;
  const fail = (problem: VerityProblem, block: number, offset: number, message: string): VerityCheck => ({ ok: false, problem, block, offset, message });
  const sbBytes = new Uint8Array(512);
  await read(hashOffset, sbBytes);
  const sb = parseVeritySuperblock(sbBytes);
  if (typeof sb === 'string') return fail('superblock', 0, hashOffset, `the superblock at byte ${hashOffset}: ${sb}`);
  if (expected.dataSize !== undefined && sb.dataBlocks * VERITY_BLOCK !== expected.dataSize) {
    return fail('superblock', 0, hashOffset, `the superblock says ${sb.dataBlocks * VERITY_BLOCK} bytes of data, expected ${expected.dataSize}`);
  }
  if (sb.dataBlocks * VERITY_BLOCK > hashOffset) return fail('superblock', 0, hashOffset, `the superblock's ${sb.dataBlocks} data blocks run past the hash area at byte ${hashOffset}`);
  if (expected.salt !== undefined && sb.salt !== expected.salt) return fail('superblock', 0, hashOffset, `the superblock's salt ${sb.salt} is not the expected ${expected.salt}`);
  const salt = Buffer.from(sb.salt, 'hex');
  const layout = verityLayout(sb.dataBlocks);
  const levels = layout.levelBlocks.length;
  // Levels are stored top first after the superblock's block: level L starts after every level above it.
  const levelStart = (level: number): number => hashOffset + VERITY_BLOCK * (1 + layout.levelBlocks.slice(level + 1).reduce((a, b) => a + b, 0));

  // Checks `count` blocks at `start` against 32-byte entries at `entriesAt`, one read piece at a time.
  const checkRun = async (start: number, count: number, entriesAt: number): Promise<number | null> => {
    const data = new Uint8Array(Math.min(count, PIECE_BLOCKS) * VERITY_BLOCK);
    const entries = new Uint8Array(Math.min(count, PIECE_BLOCKS) * DIGEST);
    for (let first = 0; first < count; first += PIECE_BLOCKS) {
      const n = Math.min(PIECE_BLOCKS, count - first);
      await read(start + first * VERITY_BLOCK, data.subarray(0, n * VERITY_BLOCK));
      await read(entriesAt + first * DIGEST, entries.subarray(0, n * DIGEST));
      for (let i = 0; i < n; i++) {
        const hash = blockHash(salt, data.subarray(i * VERITY_BLOCK, (i + 1) * VERITY_BLOCK));
        if (!hash.equals(entries.subarray(i * DIGEST, (i + 1) * DIGEST))) return first + i;
      }
    }
    return null;
  };

  // The top: the single top hash block (or, with one data block, that block) hashes to the root.
  const top = new Uint8Array(VERITY_BLOCK);
  const topAt = levels === 0 ? 0 : levelStart(levels - 1);
  await read(topAt, top);
  if (blockHash(salt, top).toString('hex') !== expected.rootHash) {
    return levels === 0
      ? fail('data', 0, 0, 'data block 0 does not hash to the root hash')
      : fail('root', (topAt - hashOffset) / VERITY_BLOCK, topAt, `the top hash block at byte ${topAt} does not hash to the root hash ${expected.rootHash}`);
  }
  for (let level = levels - 2; level >= 0; level--) {
    const at = levelStart(level);
    const bad = await checkRun(at, layout.levelBlocks[level] ?? 0, levelStart(level + 1));
    if (bad !== null) {
      const offset = at + bad * VERITY_BLOCK;
      return fail('hash', (offset - hashOffset) / VERITY_BLOCK, offset, `hash block ${bad} of level ${level} (byte ${offset}) does not match the level above`);
    }
  }
  if (levels > 0) {
    const bad = await checkRun(0, sb.dataBlocks, levelStart(0));
    if (bad !== null) return fail('data', bad, bad * VERITY_BLOCK, `data block ${bad} (byte ${bad * VERITY_BLOCK}) does not match its hash`);
  }
  return { ok: true, dataBlocks: sb.dataBlocks, salt: sb.salt };
}

/** Bytes the hash area takes after `dataSize` bytes of data: the superblock's block and every level. */
export function verityAreaSize(dataSize: number): number {
  return VERITY_BLOCK * (1 + verityLayout(dataSize / VERITY_BLOCK).hashBlocks);
}
