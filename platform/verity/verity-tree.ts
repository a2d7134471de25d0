// dm-verity's hash tree, format 1, byte for byte as veritysetup writes it (and the kernel reads it):
// each block hashed as sha256(salt || block), hashes packed into hash blocks, level after level up
// to one block whose hash is the root; the levels stored top level first, after an optional 512-byte
// superblock padded to a hash block. The publisher appends it to a slot image; the agent checks a
// slot against it offline. Checked against veritysetup in platform/verity/verity-tree.test.ts.

import { createHash } from 'node:crypto';

export const VERITY_BLOCK = 4096;
const DIGEST = 32;
const PER_BLOCK = VERITY_BLOCK / DIGEST;

export interface VerityParams {
  /** Up to 256 bytes, prepended to every hashed block. */
  readonly salt: Buffer;
  /** The superblock's UUID (veritysetup's --uuid); all zeros when absent. */
  readonly uuid?: string;
}

export interface VerityLayout {
  readonly dataBlocks: number;
  /** Blocks per level, level 0 (hashes of data blocks) first. */
  readonly levelBlocks: readonly number[];
  /** Hash blocks in all levels, without the superblock. */
  readonly hashBlocks: number;
}

export function verityLayout(dataBlocks: number): VerityLayout {
  if (!Number.isSafeInteger(dataBlocks) || dataBlocks <= 0) throw new RangeError(`a verity tree needs at least one data block, not ${dataBlocks}`);
  // As the kernel counts them: levels until one block holds every hash below; a single data block
  // needs none (its own hash is the root).
  const levelBlocks: number[] = [];
  for (let blocks = dataBlocks; blocks > 1; ) {
    blocks = Math.ceil(blocks / PER_BLOCK);
    levelBlocks.push(blocks);
  }
  return { dataBlocks, levelBlocks, hashBlocks: levelBlocks.reduce((a, b) => a + b, 0) };
}

export interface VerityTree {
  readonly layout: VerityLayout;
  readonly rootHash: string;
  readonly salt: string;
  /** Each level's hash blocks, level 0 first, zero-padded to whole blocks. */
  readonly levels: readonly Buffer[];
}

function blockHash(salt: Buffer, block: Buffer): Buffer {
  return createHash('sha256').update(salt).update(block).digest();
}

/** Packs a level's hashes into whole hash blocks (the last one zero-padded), and hashes those blocks for the level above. */
function packLevel(hashes: Buffer, salt: Buffer): { readonly packed: Buffer; readonly above: Buffer } {
  const blocks = Math.ceil(hashes.length / VERITY_BLOCK);
  const packed = Buffer.alloc(blocks * VERITY_BLOCK);
  hashes.copy(packed);
  const above = Buffer.alloc(blocks * DIGEST);
  for (let i = 0; i < blocks; i++) blockHash(salt, packed.subarray(i * VERITY_BLOCK, (i + 1) * VERITY_BLOCK)).copy(above, i * DIGEST);
  return { packed, above };
}

/**
 * The tree over `data`, read as a stream of chunks of any size whose total is a whole number of 4096-byte
 * blocks. Memory: 32 bytes per data block (a 4 GiB image: 32 MiB) plus one chunk.
 */
export async function computeVerityTree(data: AsyncIterable<Uint8Array>, params: VerityParams): Promise<VerityTree> {
  const hashes: Buffer[] = [];
  let pending = Buffer.alloc(0);
  let dataBlocks = 0;
  for await (const chunk of data) {
    const bytes = pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([pending, chunk]);
    let offset = 0;
    for (; offset + VERITY_BLOCK <= bytes.length; offset += VERITY_BLOCK) {
      hashes.push(blockHash(params.salt, bytes.subarray(offset, offset + VERITY_BLOCK)));
      dataBlocks++;
    }
    pending = Buffer.from(bytes.subarray(offset));
  }
  if (pending.length !== 0) throw new RangeError(`verity data must be whole ${VERITY_BLOCK}-byte blocks; ${pending.length} bytes are left over`);
  const layout = verityLayout(dataBlocks);
  const levels: Buffer[] = [];
  let current: Buffer = Buffer.concat(hashes);
  for (let level = 0; level < layout.levelBlocks.length; level++) {
    const { packed, above } = packLevel(current, params.salt);
    levels.push(packed);
    current = above;
  }
  return { layout, rootHash: current.toString('hex'), salt: params.salt.toString('hex'), levels };
}

/** veritysetup's on-disk superblock (format 1), 512 bytes. */
export function veritySuperblock(layout: VerityLayout, params: VerityParams): Buffer {
  const sb = Buffer.alloc(512);
  sb.write('verity', 0, 'latin1');
  sb.writeUInt32LE(1, 8); // superblock version
  sb.writeUInt32LE(1, 12); // hash type: salt first
  if (params.uuid !== undefined) Buffer.from(params.uuid.replace(/-/g, ''), 'hex').copy(sb, 16);
  sb.write('sha256', 32, 'latin1');
  sb.writeUInt32LE(VERITY_BLOCK, 64);
  sb.writeUInt32LE(VERITY_BLOCK, 68);
  sb.writeBigUInt64LE(BigInt(layout.dataBlocks), 72);
  sb.writeUInt16LE(params.salt.length, 80);
  params.salt.copy(sb, 88);
  return sb;
}

/** The hash area as it follows the data: the superblock in its own block, then the levels, top level first. */
export function verityHashArea(tree: VerityTree, params: VerityParams): Buffer {
  const superblock = Buffer.alloc(VERITY_BLOCK);
  veritySuperblock(tree.layout, params).copy(superblock);
  return Buffer.concat([superblock, ...[...tree.levels].reverse()]);
}
