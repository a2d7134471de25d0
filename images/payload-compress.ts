// Compresses a slot image into a release payload: one zstd frame per chunk of the image, so that a
// client can resume a download at any frame boundary, with the SHA-256 of both sides. With content-
// defined chunking (format 4) each group of chunkSize image bytes is cut further into content-defined
// chunks, one frame each, listed in a chunk index: the payload is still the frames end to end.

import { createHash } from 'node:crypto';
import { open, rename, stat, writeFile } from 'node:fs/promises';
import { constants, zstdCompressSync } from 'node:zlib';
import { chunkLengths } from './content-chunker.ts';
import { serializeChunkIndex } from './chunk-index.ts';
import type { ChunkingParameters } from './content-chunker.ts';
import type { IndexedChunk } from './chunk-index.ts';
import type { PayloadDescription } from './release-manifest.ts';

export interface CompressedIndex {
  /** Bytes of the index file and their SHA-256. */
  readonly size: number;
  readonly sha256: string;
  readonly chunkCount: number;
}

/**
 * Compresses `image` into `payloadPath`, hashing both sides. With `chunking`, also writes the chunk
 * index to `indexPath` and returns its size and hash for the manifest.
 */
export async function compressImage(
  image: string,
  payloadPath: string,
  chunkSize: number,
  level: number,
  cdc?: { readonly chunking: ChunkingParameters; readonly indexPath: string },
): Promise<Omit<PayloadDescription, 'url' | 'index'> & { readonly chunkIndex?: CompressedIndex }> {
  const imageSize = (await stat(image)).size;
  const imageHash = createHash('sha256');
  const payloadHash = createHash('sha256');
  const chunks: number[] = [];
  const indexed: IndexedChunk[] = [];
  let payloadOffset = 0;
  const input = await open(image, 'r');
  const partial = `${payloadPath}.partial`;
  const output = await open(partial, 'w');
  const compress = (piece: Uint8Array): Buffer => zstdCompressSync(piece, { params: { [constants.ZSTD_c_compressionLevel]: level } });
  try {
    const buffer = Buffer.alloc(Math.min(chunkSize, Math.max(imageSize, 1)));
    for (let at = 0; at < imageSize; at += chunkSize) {
      const { bytesRead } = await input.read(buffer, 0, Math.min(chunkSize, imageSize - at), at);
      const piece = buffer.subarray(0, bytesRead);
      imageHash.update(piece);
      let groupBytes = 0;
      let inGroup = 0;
      for (const length of cdc === undefined ? [piece.length] : chunkLengths(piece, cdc.chunking)) {
        const bytes = piece.subarray(inGroup, inGroup + length);
        const frame = compress(bytes);
        if (cdc !== undefined) {
          indexed.push({ imageOffset: at + inGroup, length, payloadOffset, payloadLength: frame.length, sha256: createHash('sha256').update(bytes).digest('hex') });
        }
        payloadHash.update(frame);
        await output.write(frame);
        payloadOffset += frame.length;
        groupBytes += frame.length;
        inGroup += length;
      }
      chunks.push(groupBytes);
    }
    await output.sync();
  } finally {
    await input.close();
    await output.close();
  }
  await rename(partial, payloadPath);
  const size = chunks.reduce((a, b) => a + b, 0);
  let index: CompressedIndex | undefined;
  if (cdc !== undefined) {
    const bytes = serializeChunkIndex({ chunking: cdc.chunking, imageSize, payloadSize: size, chunks: indexed });
    await writeFile(cdc.indexPath, bytes);
    index = { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), chunkCount: indexed.length };
  }
  return {
    compression: 'zstd',
    size,
    sha256: payloadHash.digest('hex'),
    imageSize,
    imageSha256: imageHash.digest('hex'),
    chunkSize,
    chunks,
    ...(index === undefined ? {} : { chunkIndex: index }),
  };
}
