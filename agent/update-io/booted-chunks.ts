// Where each chunk of the booted slot is, by the SHA-256 of its bytes: cut with the release's own
// chunking, or read from the state directory where the last update left the index of the image it
// wrote. A hint only: every chunk taken from here is hashed again before it is used, so a stale or
// damaged cache costs downloads, never a wrong byte.

import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkLengths } from '../../images/content-chunker.ts';
import type { ChunkingParameters } from '../../images/content-chunker.ts';
import type { ChunkIndex } from '../../images/chunk-index.ts';
import type { BlockDevice } from '../slots/block-device.ts';
import type { SlotName } from '../slots/boot-chooser.ts';

/** SHA-256 (hex) to [offset, length] in the slot. */
export type ChunkMap = Map<string, readonly [number, number]>;

interface CacheFile {
  readonly version: string;
  readonly slot: string;
  readonly chunking: ChunkingParameters;
  readonly groupSize: number;
  /** [offset, length, sha256] per chunk. */
  readonly chunks: readonly (readonly [number, number, string])[];
}

export function cachePath(dir: string, slot: SlotName): string {
  return join(dir, `chunks-${slot}.json`);
}

/** The cached map of `slot` if it was written for `version` with these parameters; null otherwise. */
export async function loadChunkCache(dir: string, slot: SlotName, version: string, chunking: ChunkingParameters, groupSize: number): Promise<ChunkMap | null> {
  const text = await readFile(cachePath(dir, slot), 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const cache = JSON.parse(text) as CacheFile;
    const same = cache.version === version && cache.slot === slot && cache.groupSize === groupSize && JSON.stringify(cache.chunking) === JSON.stringify(chunking);
    const chunks: unknown = cache.chunks;
    if (!same || !Array.isArray(chunks)) return null;
    const map: ChunkMap = new Map();
    for (const entry of chunks as unknown[]) {
      if (!Array.isArray(entry)) return null;
      const [offset, length, sha256] = entry as unknown[];
      map.set(String(sha256), [Number(offset), Number(length)]);
    }
    return map;
  } catch {
    return null; // a torn or foreign file: cut the slot again
  }
}

export async function saveChunkCache(dir: string, slot: SlotName, version: string, chunking: ChunkingParameters, groupSize: number, chunks: readonly (readonly [number, number, string])[]): Promise<void> {
  const body: CacheFile = { version, slot, chunking, groupSize, chunks };
  const path = cachePath(dir, slot);
  await writeFile(`${path}.tmp`, JSON.stringify(body));
  await rename(`${path}.tmp`, path);
}

/** The cache entry for a slot just written from `index`: no need to cut it when it has booted. */
export function indexEntries(index: ChunkIndex): (readonly [number, number, string])[] {
  return index.chunks.map((c) => [c.imageOffset, c.length, c.sha256] as const);
}

/**
 * Cuts the first `bytes` of `slot` as the publisher cuts an image: group by group of `groupSize`,
 * content-defined within each. One group-sized buffer, reused, is the memory this takes.
 */
export async function cutSlot(slot: BlockDevice, bytes: number, chunking: ChunkingParameters, groupSize: number): Promise<(readonly [number, number, string])[]> {
  const out: (readonly [number, number, string])[] = [];
  const buffer = new Uint8Array(Math.min(groupSize, Math.max(bytes, 1)));
  for (let at = 0; at < bytes; at += groupSize) {
    const group = buffer.subarray(0, Math.min(groupSize, bytes - at));
    await slot.readInto(at, group);
    let inGroup = 0;
    for (const length of chunkLengths(group, chunking)) {
      out.push([at + inGroup, length, createHash('sha256').update(group.subarray(inGroup, inGroup + length)).digest('hex')]);
      inGroup += length;
    }
  }
  return out;
}
