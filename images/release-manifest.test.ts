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

const index = { url: 'releases/1.0.0/payload.img.zst.chunks.idx', size: 96, sha256: 'cd'.repeat(32) };

describe('parseManifest', () => {
  it('reads a chunk index in format 4', () => {
    expect(parseManifest(serializeManifest({ ...valid, format: 4, payload: { ...valid.payload, index } }), 'x').payload.index).toEqual(index);
  });

  it('round-trips a manifest for an image over 4 GiB', () => {
    const parsed = parseManifest(serializeManifest(valid), 'https://u/stable/manifest.json');
    expect(parsed).toEqual(valid);
    expect(parsed.payload.imageSize).toBe(5_368_709_120);
  });

  it.each([
    ['format', { ...valid, format: 5 }, 'format must be 1, 2, 3, 4, got 5'],
    ['an index in format 3', { ...valid, format: 3, payload: { ...valid.payload, index } }, 'payload.index needs format 4'],
    ['an index outside releases/', { ...valid, format: 4, payload: { ...valid.payload, index: { ...index, url: '../x.idx' } } }, 'payload.index.url "../x.idx" must be a relative path under releases/'],
    ['an index of no size', { ...valid, format: 4, payload: { ...valid.payload, index: { ...index, size: 0 } } }, 'payload.index.size must be a positive whole number'],
    ['an index hash in capitals', { ...valid, format: 4, payload: { ...valid.payload, index: { ...index, sha256: 'AB'.repeat(32) } } }, 'payload.index.sha256 must be 64 lower-case hex digits'],
    ['an index with more', { ...valid, format: 4, payload: { ...valid.payload, index: { ...index, chunking: 'fastcdc' } } }, 'payload.index.chunking is not a field of format 4'],
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

describe('parseManifest: a rollout', () => {
  const spread = { start: '2026-12-03T00:00:00.000Z', durationSeconds: 86_400 };
  const waves = { waves: [{ at: '2026-12-03T00:00:00.000Z', fraction: 0.1 }, { at: '2026-12-03T06:00:00.000Z', fraction: 1 }] };
  const withRollout = (rollout: unknown, format = 2): string => JSON.stringify({ ...valid, format, rollout });
  const problem = (text: string): string => {
    try {
      parseManifest(Buffer.from(text), 'https://u/m.json');
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_MANIFEST_INVALID' });
      return (error as Error).message.replace('manifest from https://u/m.json: ', '');
    }
    throw new Error('accepted');
  };

  it('reads a spread or waves in format 2, and format 2 without one', () => {
    expect(parseManifest(Buffer.from(withRollout(spread)), 'x').rollout).toEqual(spread);
    expect(parseManifest(Buffer.from(withRollout(waves)), 'x').rollout).toEqual(waves);
    expect(parseManifest(bytes({ ...valid, format: 2 }), 'x').rollout).toBeUndefined();
  });

  it('refuses a rollout in format 1, which an older agent would ignore and take at once', () => {
    expect(problem(withRollout(spread, 1))).toBe('rollout needs format 2: an agent that reads format 1 ignores it and takes the release at once');
  });

  it.each([
    ['null', null, 'rollout must be an object with start and durationSeconds, or with waves'],
    ['a list', [spread], 'rollout must be an object with start and durationSeconds, or with waves'],
    ['NaN start', { ...spread, start: 'NaN' }, 'rollout.start must be a UTC time like 2026-12-03T00:00:00.000Z'],
    ['numeric start', { ...spread, start: 1_764_720_000_000 }, 'rollout.start must be a UTC time'],
    ['local start', { ...spread, start: '2026-12-03T00:00:00' }, 'rollout.start must be a UTC time'],
    ['31 February', { ...spread, start: '2026-02-31T00:00:00.000Z' }, 'rollout.start must be a UTC time'],
    ['zero duration', { ...spread, durationSeconds: 0 }, 'rollout.durationSeconds must be a whole number of seconds from 1 to 31622400 (366 days)'],
    ['string duration', { ...spread, durationSeconds: '86400' }, 'rollout.durationSeconds must be a whole number'],
    ['fractional duration', { ...spread, durationSeconds: 1.5 }, 'rollout.durationSeconds must be a whole number'],
    ['huge duration', { ...spread, durationSeconds: 1e300 }, 'rollout.durationSeconds must be a whole number'],
    ['a year and a day and more', { ...spread, durationSeconds: 366 * 86_400 + 1 }, 'rollout.durationSeconds must be a whole number'],
    ['both forms', { ...spread, ...waves }, 'rollout.start is not a field of a rollout in waves (only waves)'],
    ['an unknown field', { ...spread, jitter: 5 }, 'rollout.jitter is not a field of a rollout'],
    ['no waves', { waves: [] }, 'rollout.waves must be a list of at least one wave'],
    ['too many waves', { waves: Array.from({ length: 101 }, (_, i) => ({ at: spread.start, fraction: (i + 1) / 101 })) }, 'rollout.waves must have at most 100 waves'],
    ['a fraction over 1', { waves: [{ at: spread.start, fraction: 1.5 }] }, 'rollout.waves[0].fraction must be a number above the wave before it (0) and at most 1'],
    ['a fraction of 0', { waves: [{ at: spread.start, fraction: 0 }, { at: spread.start, fraction: 1 }] }, 'rollout.waves[0].fraction must be a number above'],
    ['a string fraction', { waves: [{ at: spread.start, fraction: '1' }] }, 'rollout.waves[0].fraction must be a number'],
    ['fractions that shrink', { waves: [{ at: spread.start, fraction: 0.5 }, { at: '2026-12-04T00:00:00.000Z', fraction: 0.4 }, { at: '2026-12-05T00:00:00.000Z', fraction: 1 }] }, 'rollout.waves[1].fraction must be a number above the wave before it (0.5) and at most 1'],
    ['unsorted times', { waves: [{ at: '2026-12-04T00:00:00.000Z', fraction: 0.5 }, { at: spread.start, fraction: 1 }] }, 'rollout.waves[1].at must not come before the wave before it'],
    ['NaN time', { waves: [{ at: 'NaN', fraction: 1 }] }, 'rollout.waves[0].at must be a UTC time'],
    ['a last wave short of every host', { waves: [{ at: spread.start, fraction: 0.9 }] }, 'rollout.waves must end with fraction 1 (every host)'],
    ['waves over more than a year', { waves: [{ at: spread.start, fraction: 0.5 }, { at: '2028-01-01T00:00:00.000Z', fraction: 1 }] }, 'rollout.waves[1].at is more than 366 days after the first wave'],
    ['a wave with more', { waves: [{ at: spread.start, fraction: 1, hosts: ['a'] }] }, 'rollout.waves[0].hosts is not a field of a wave (at and fraction)'],
  ])('refuses %s, naming the field', (_name, rollout, message) => {
    expect(problem(withRollout(rollout))).toContain(message);
  });

  it('refuses a fraction of Infinity (1e400 in the JSON)', () => {
    expect(problem(withRollout(waves).replace('"fraction":1}', '"fraction":1e400}'))).toBe('rollout.waves[1].fraction must be a number above the wave before it (0.1) and at most 1');
  });
});
