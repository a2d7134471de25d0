// A slot image's dm-verity hash tree: appended after the filesystem at a 4096-aligned offset (the
// data size), veritysetup's superblock first, so `veritysetup open DEV NAME DEV ROOT --hash-offset=N`
// reads it as is. Found again by the image's size alone; appended when missing, checked when present.

import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, open, stat, truncate } from 'node:fs/promises';
import { computeVerityTree, VERITY_BLOCK, verityHashArea } from '../platform/verity/verity-tree.ts';
import { parseVeritySuperblock, verityAreaSize } from '../platform/verity/verity-check.ts';
import { ReleaseError } from './release-errors.ts';
import type { VerityDescription } from './verity-manifest.ts';

export type { VerityDescription };

/**
 * Where a tree that ends the image would start: the one data size whose tree fills the rest (the
 * image's size grows strictly with it), if that size holds a verity superblock. Null otherwise.
 */
export async function findVerityTree(image: string): Promise<number | null> {
  const size = (await stat(image)).size;
  if (size % VERITY_BLOCK !== 0 || size < 2 * VERITY_BLOCK) return null;
  let low = 1;
  let high = size / VERITY_BLOCK;
  while (low <= high) {
    const blocks = Math.floor((low + high) / 2);
    const total = blocks * VERITY_BLOCK + verityAreaSize(blocks * VERITY_BLOCK);
    if (total === size) {
      const handle = await open(image, 'r');
      try {
        const sb = Buffer.alloc(512);
        await handle.read(sb, 0, 512, blocks * VERITY_BLOCK);
        const fields = parseVeritySuperblock(sb);
        return typeof fields !== 'string' && fields.dataBlocks === blocks ? blocks * VERITY_BLOCK : null;
      } finally {
        await handle.close();
      }
    }
    if (total < size) low = blocks + 1;
    else high = blocks - 1;
  }
  return null;
}

async function treeOf(image: string, dataSize: number, salt: Buffer, uuid: string): Promise<{ rootHash: string; area: Buffer }> {
  const tree = await computeVerityTree(createReadStream(image, { start: 0, end: dataSize - 1, highWaterMark: 1024 * 1024 }), { salt, uuid });
  return { rootHash: tree.rootHash, area: verityHashArea(tree, { salt, uuid }) };
}

function describe(rootHash: string, salt: string, dataSize: number): VerityDescription {
  return { rootHash, salt, dataSize, hashOffset: dataSize, algorithm: 'sha256', blockSize: VERITY_BLOCK };
}

/**
 * Pads `image` with zeros to whole 4096-byte blocks (a filesystem never reads past its own end) and
 * appends the tree. A random 32-byte salt, as veritysetup's; `salt` for reproducible builds and tests.
 */
export async function appendVerityTree(image: string, options: { readonly salt?: Buffer } = {}): Promise<VerityDescription> {
  const size = (await stat(image)).size;
  if (size === 0) throw new ReleaseError('ERR_VERITY_INVALID', `${image} is empty; a verity tree needs at least one block of data`);
  const dataSize = Math.ceil(size / VERITY_BLOCK) * VERITY_BLOCK;
  if (dataSize !== size) await truncate(image, dataSize);
  const salt = options.salt ?? randomBytes(32);
  const { rootHash, area } = await treeOf(image, dataSize, salt, randomUUID());
  const handle = await open(image, 'r+');
  try {
    await handle.write(area, 0, area.length, dataSize);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return describe(rootHash, salt.toString('hex'), dataSize);
}

/** Recomputes the tree of an image that carries one and requires the stored hash area byte for byte. */
export async function checkVerityImage(image: string): Promise<VerityDescription> {
  const dataSize = await findVerityTree(image);
  if (dataSize === null) throw new ReleaseError('ERR_VERITY_INVALID', `${image} does not end with a verity hash tree`);
  const handle = await open(image, 'r');
  let stored: Buffer;
  try {
    stored = Buffer.alloc(verityAreaSize(dataSize));
    await handle.read(stored, 0, stored.length, dataSize);
  } finally {
    await handle.close();
  }
  const sb = parseVeritySuperblock(stored);
  if (typeof sb === 'string') throw new ReleaseError('ERR_VERITY_INVALID', `${image}: ${sb}`);
  const uuid = sb.uuid.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
  const { rootHash, area } = await treeOf(image, dataSize, Buffer.from(sb.salt, 'hex'), uuid);
  const bad = firstDifferentBlock(area, stored);
  if (bad !== null) {
    throw new ReleaseError('ERR_VERITY_INVALID', `${image}: the verity tree it carries is not the tree of its data (hash area block ${bad}, byte ${dataSize + bad * VERITY_BLOCK}); rebuild the image`);
  }
  return describe(rootHash, sb.salt, dataSize);
}

function firstDifferentBlock(a: Buffer, b: Buffer): number | null {
  for (let at = 0; at < Math.max(a.length, b.length); at += VERITY_BLOCK) {
    if (!a.subarray(at, at + VERITY_BLOCK).equals(b.subarray(at, at + VERITY_BLOCK))) return at / VERITY_BLOCK;
  }
  return null;
}

/**
 * The image `release publish` compresses: `image` itself when it carries a tree (checked), or a copy
 * at `copyPath` with one appended; the given file is never changed.
 */
export async function verityImage(image: string, copyPath: string): Promise<{ readonly path: string; readonly verity: VerityDescription; readonly appended: boolean }> {
  if ((await findVerityTree(image)) !== null) return { path: image, verity: await checkVerityImage(image), appended: false };
  await copyFile(image, copyPath);
  return { path: copyPath, verity: await appendVerityTree(copyPath), appended: true };
}
