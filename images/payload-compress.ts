// Compresses a slot image into a release payload: one zstd frame per chunk of the image, so that a
// client can resume a download at any frame boundary, with the SHA-256 of both sides.

import { createHash } from 'node:crypto';
import { open, rename, stat } from 'node:fs/promises';
import { constants, zstdCompressSync } from 'node:zlib';
import type { PayloadDescription } from './release-manifest.ts';

/** Compresses `image` into `payloadPath` as one zstd frame per chunk, hashing both sides. */
export async function compressImage(image: string, payloadPath: string, chunkSize: number, level: number): Promise<Omit<PayloadDescription, 'url'>> {
  const imageSize = (await stat(image)).size;
  const imageHash = createHash('sha256');
  const payloadHash = createHash('sha256');
  const chunks: number[] = [];
  const input = await open(image, 'r');
  const partial = `${payloadPath}.partial`;
  const output = await open(partial, 'w');
  try {
    const buffer = Buffer.alloc(Math.min(chunkSize, Math.max(imageSize, 1)));
    for (let at = 0; at < imageSize; at += chunkSize) {
      const { bytesRead } = await input.read(buffer, 0, Math.min(chunkSize, imageSize - at), at);
      const piece = buffer.subarray(0, bytesRead);
      imageHash.update(piece);
      const frame = zstdCompressSync(piece, { params: { [constants.ZSTD_c_compressionLevel]: level } });
      payloadHash.update(frame);
      chunks.push(frame.length);
      await output.write(frame);
    }
    await output.sync();
  } finally {
    await input.close();
    await output.close();
  }
  await rename(partial, payloadPath);
  return {
    compression: 'zstd',
    size: chunks.reduce((a, b) => a + b, 0),
    sha256: payloadHash.digest('hex'),
    imageSize,
    imageSha256: imageHash.digest('hex'),
    chunkSize,
    chunks,
  };
}
