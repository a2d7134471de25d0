// The manifest's `verity` (format 3): read when well formed, refused in an older format (an older
// agent would ignore it), and every hostile value refused with an error that names the field.

import { describe, expect, it } from 'vitest';
import { manifestFormat, parseManifest } from './release-manifest.ts';
import type { ReleaseManifest, VerityDescription } from './release-manifest.ts';

const MiB = 1024 ** 2;
const verity: VerityDescription = { rootHash: 'c'.repeat(64), salt: 'ab'.repeat(32), dataSize: 200 * MiB, hashOffset: 200 * MiB, algorithm: 'sha256', blockSize: 4096 };
// 200 MiB of data: 51,200 blocks, 400 + 4 + 1 hash blocks and the superblock's.
const imageSize = 200 * MiB + 406 * 4096;
const valid: ReleaseManifest = {
  format: 3,
  channel: 'stable',
  version: '1.2.3',
  created: '2026-11-01T00:00:00.000Z',
  expires: '2026-12-01T00:00:00.000Z',
  arch: 'x86_64',
  board: 'qemu',
  payload: { url: 'releases/1.2.3/payload.img.zst', compression: 'zstd', size: 100, sha256: 'a'.repeat(64), imageSize, imageSha256: 'b'.repeat(64), chunkSize: 256 * MiB, chunks: [100] },
  verity,
};
const bytes = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));
const problem = (value: unknown): string => {
  try {
    parseManifest(bytes(value), 'm');
    return 'accepted';
  } catch (error) {
    expect((error as { code?: string }).code).toBe('ERR_MANIFEST_INVALID');
    return (error as Error).message.replace(/^manifest from m: /, '');
  }
};

describe('parseManifest: verity', () => {
  it('reads a tree that ends exactly at the end of the image, and a rollout beside it', () => {
    expect(parseManifest(bytes(valid), 'm').verity).toEqual(verity);
    expect(problem({ ...valid, rollout: { start: '2026-12-03T00:00:00.000Z', durationSeconds: 60 } })).toBe('accepted');
  });

  it('is written as format 3 only when present', () => {
    expect(manifestFormat({})).toBe(1);
    expect(manifestFormat({ rollout: {} })).toBe(2);
    expect(manifestFormat({ verity })).toBe(3);
    expect(manifestFormat({ rollout: {}, verity })).toBe(3);
  });

  it.each([1, 2])('refuses verity in format %i, which an older agent would ignore', (format) => {
    expect(problem({ ...valid, format })).toBe(`verity needs format 3: an agent that reads format ${format} ignores it and stages the slot without its root hash`);
  });

  it.each([
    ['not an object', 'yes', 'verity must be an object'],
    ['a list', [verity], 'verity must be an object'],
    ['unknown field', { ...verity, hashDevice: '/dev/sda' }, 'verity.hashDevice is not a field of format 3'],
    ['upper-case root', { ...verity, rootHash: 'C'.repeat(64) }, 'verity.rootHash must be 64 lower-case hex digits'],
    ['short root', { ...verity, rootHash: 'c'.repeat(63) }, 'verity.rootHash must be 64 lower-case hex digits'],
    ['odd salt', { ...verity, salt: 'abc' }, 'verity.salt must be lower-case hex of at most 256 bytes'],
    ['long salt', { ...verity, salt: 'ab'.repeat(257) }, 'verity.salt must be lower-case hex of at most 256 bytes'],
    ['algorithm', { ...verity, algorithm: 'sha1' }, 'verity.algorithm must be "sha256", got "sha1"'],
    ['block size', { ...verity, blockSize: 512 }, 'verity.blockSize must be 4096, got 512'],
    ['ragged data size', { ...verity, dataSize: 200 * MiB + 1 }, 'verity.dataSize must be a positive multiple of 4096, got 209715201'],
    ['zero data size', { ...verity, dataSize: 0 }, 'verity.dataSize must be a positive multiple of 4096, got 0'],
    ['data size as text', { ...verity, dataSize: '209715200' }, 'verity.dataSize must be a positive multiple of 4096, got "209715200"'],
    ['tree inside the data', { ...verity, hashOffset: 4096 }, 'verity.hashOffset must be a multiple of 4096 at or after verity.dataSize, got 4096'],
    ['missing offset', { ...verity, hashOffset: undefined }, 'verity.hashOffset must be a multiple of 4096 at or after verity.dataSize, got undefined'],
    ['tree past the image', { ...verity, hashOffset: 200 * MiB + 4096 }, `verity's hash area ends at byte ${imageSize + 4096}, past the ${imageSize}-byte image (payload.imageSize)`],
    ['data past the image', { ...verity, dataSize: 400 * MiB, hashOffset: 400 * MiB }, 'past the'],
  ])('refuses %s', (_name, value, message) => {
    expect(problem({ ...valid, verity: value })).toContain(message);
  });
});
