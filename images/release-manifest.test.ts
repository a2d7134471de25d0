// The manifest format: every field checked, errors that name the source and the field, and 64-bit
// sizes (images over 4 GiB) carried exactly.

import { describe, expect, it } from 'vitest';
import { parseManifest, serializeManifest } from './release-manifest.ts';
import type { ReleaseManifest } from './release-manifest.ts';

const GiB = 1024 ** 3;
const valid: ReleaseManifest = {
  format: 1,
  channel: 'stable',
  version: '3510.2.1',
  created: '2026-11-01T00:00:00.000Z',
  expires: '2026-12-01T00:00:00.000Z',
  arch: 'x86_64',
  board: 'qemu',
  payload: {
    url: 'releases/3510.2.1/payload.img.zst',
    compression: 'zstd',
    size: 1280 * 2_000_000,
    sha256: 'a'.repeat(64),
    imageSize: 5 * GiB,
    imageSha256: 'b'.repeat(64),
    chunkSize: 4 * 1024 ** 2,
    chunks: Array.from({ length: 1280 }, () => 2_000_000),
  },
};
const bytes = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));

describe('parseManifest', () => {
  it('round-trips a manifest for an image over 4 GiB', () => {
    const parsed = parseManifest(serializeManifest(valid), 'https://u/stable/manifest.json');
    expect(parsed).toEqual(valid);
    expect(parsed.payload.imageSize).toBe(5_368_709_120);
  });

  it.each([
    ['format', { ...valid, format: 2 }, 'format must be 1, got 2'],
    ['channel', { ...valid, channel: '../x' }, 'channel must be a short name'],
    ['version', { ...valid, version: 'latest' }, 'version is not a version: "latest"'],
    ['expires', { ...valid, expires: 'tomorrow' }, 'expires must be an ISO 8601 time'],
    ['absolute url', { ...valid, payload: { ...valid.payload, url: 'https://evil.example/p' } }, 'payload.url "https://evil.example/p" must be a relative path under releases/'],
    ['url with ..', { ...valid, payload: { ...valid.payload, url: '../../etc/passwd' } }, 'payload.url "../../etc/passwd" must be a relative path under releases/'],
    ['compression', { ...valid, payload: { ...valid.payload, compression: 'xz' } }, 'payload.compression must be "zstd"'],
    ['hash', { ...valid, payload: { ...valid.payload, imageSha256: 'XYZ' } }, 'payload.imageSha256 must be 64 lower-case hex digits'],
    ['negative size', { ...valid, payload: { ...valid.payload, imageSize: -1 } }, 'payload.imageSize must be a positive whole number'],
    ['chunk count', { ...valid, payload: { ...valid.payload, chunks: [1, 2] } }, 'payload.chunks must have one entry per 4194304-byte chunk'],
    ['chunk sum', { ...valid, payload: { ...valid.payload, size: 1 } }, 'payload.chunks do not add up to payload.size'],
  ])('rejects a bad %s, naming the field', (_name, manifest, message) => {
    expect(() => parseManifest(bytes(manifest), 'https://u/m.json')).toThrow(
      expect.objectContaining({ code: 'ERR_MANIFEST_INVALID', message: expect.stringContaining(`manifest from https://u/m.json: ${message}`) as unknown }),
    );
  });

  it('rejects a key given twice, at the top or nested, naming the key and where it is', () => {
    const text = serializeManifest(valid).toString();
    const twiceVersion = text.replace('"version": "3510.2.1",', '"version": "3510.2.1", "version": "9999.0.0",');
    expect(() => parseManifest(Buffer.from(twiceVersion), 'x')).toThrow(
      expect.objectContaining({ code: 'ERR_MANIFEST_INVALID', message: 'manifest from x: duplicate key "version" at version; a signed document must say each thing once' }),
    );
    const twiceUrl = text.replace('"compression": "zstd",', '"compression": "zstd", "url": "releases/other/payload.img.zst",');
    expect(() => parseManifest(Buffer.from(twiceUrl), 'x')).toThrow(expect.objectContaining({ code: 'ERR_MANIFEST_INVALID', message: expect.stringContaining('duplicate key "url" at payload.url') as unknown }));
  });

  it('rejects what is not JSON', () => {
    expect(() => parseManifest(Buffer.from('<html>'), 'x')).toThrow(expect.objectContaining({ code: 'ERR_MANIFEST_INVALID', message: 'manifest from x is not JSON' }));
  });
});
