// payload.url spellings against the URL parser: each hostile one is shown to reach another host or
// leave the channel's releases/ when resolved naively, and is refused by the resolver and the parser.

import { describe, expect, it } from 'vitest';
import { resolvePayloadUrl } from './payload-url.ts';
import { parseManifest, serializeManifest } from './release-manifest.ts';
import type { ReleaseManifest } from './release-manifest.ts';

const MANIFEST = 'https://mirror.example/os/stable/manifest.json';
const RELEASES = 'https://mirror.example/os/stable/releases/';

/** Where `new URL(spelling, manifest)` goes: the host when it leaves the mirror, else the path. */
function naive(spelling: string): string {
  const url = new URL(spelling, MANIFEST);
  return url.host === 'mirror.example' ? url.pathname : url.host;
}

const valid: ReleaseManifest = {
  format: 1,
  channel: 'stable',
  version: '1.0.1',
  created: '2026-01-01T00:00:00Z',
  expires: '2026-02-01T00:00:00Z',
  arch: 'x86_64',
  board: 'qemu',
  payload: { url: 'releases/1.0.1/payload.img.zst', compression: 'zstd', size: 3, sha256: 'a'.repeat(64), imageSize: 4, imageSha256: 'b'.repeat(64), chunkSize: 4, chunks: [3] },
};

describe('payload.url', () => {
  // [spelling, where a naive resolution goes, why it is refused]
  const hostile: [string, string, string][] = [
    ['\\\\evil.example/x', 'evil.example', 'must not contain a backslash'],
    ['/\\evil.example/x', 'evil.example', 'must not contain a backslash'],
    ['\\/evil.example/x', 'evil.example', 'must not contain a backslash'],
    ['releases/\\..\\..\\..\\x', '/os/x', 'must not contain a backslash'],
    ['\t//evil.example/x', 'evil.example', 'must be visible ASCII without spaces or control characters'],
    ['/\t/evil.example/x', 'evil.example', 'must be visible ASCII without spaces or control characters'],
    ['/\n/evil.example/x', 'evil.example', 'must be visible ASCII without spaces or control characters'],
    [' //evil.example/x', 'evil.example', 'must be visible ASCII without spaces or control characters'],
    ['\x00//evil.example/x', 'evil.example', 'must be visible ASCII without spaces or control characters'],
    ['releases/1.0.1/payload.img.zst\u3002evil', '/os/stable/releases/1.0.1/payload.img.zst%E3%80%82evil', 'must be visible ASCII without spaces or control characters'],
    ['//evil.example/x', 'evil.example', 'must be a relative path under releases/'],
    ['https://evil.example/x', 'evil.example', 'must be a relative path under releases/'],
    ['https:evil.example/x', '/os/stable/evil.example/x', 'must be a relative path under releases/'],
    ['http:evil.example/x', 'evil.example', 'must be a relative path under releases/'],
    ['/etc/passwd', '/etc/passwd', 'must be a relative path under releases/'],
    ['%2e%2e/%2e%2e/x', '/x', 'must be a relative path under releases/'],
    ['.%2e/x', '/os/x', 'must be a relative path under releases/'],
    ['%2E%2E%2Fx', '/os/stable/%2E%2E%2Fx', 'must be a relative path under releases/'],
    ['RELEASES/1.0.1/p', '/os/stable/RELEASES/1.0.1/p', 'must be a relative path under releases/'],
    ['releases', '/os/stable/releases', 'must be a relative path under releases/'],
    ['releases/../../x', '/os/x', 'must not have empty, "." or ".." path segments'],
    ['releases/./1.0.1/p', '/os/stable/releases/1.0.1/p', 'must not have empty, "." or ".." path segments'],
    ['releases//evil.example/x', '/os/stable/releases//evil.example/x', 'must not have empty, "." or ".." path segments'],
    ['releases/', '/os/stable/releases/', 'must not have empty, "." or ".." path segments'],
    ['releases/%2e%2e/%2e%2e/x', '/os/x', 'must not percent-encode a dot, slash or backslash'],
    ['releases/.%2e/.%2E/x', '/os/x', 'must not percent-encode a dot, slash or backslash'],
    ['releases/%2e./x', '/os/stable/x', 'must not percent-encode a dot, slash or backslash'],
    ['releases/..%2f..%2fx', '/os/stable/releases/..%2f..%2fx', 'must not percent-encode a dot, slash or backslash'],
    ['releases/1.0.1%2F..%2F..%2F..%2Fx', '/os/stable/releases/1.0.1%2F..%2F..%2F..%2Fx', 'must not percent-encode a dot, slash or backslash'],
    ['releases/1.0.1/%5c..%5c..%5cx', '/os/stable/releases/1.0.1/%5c..%5c..%5cx', 'must not percent-encode a dot, slash or backslash'],
    ['releases/x?../../y', '/os/stable/releases/x', 'must not have a query or a fragment'],
    ['releases/x#frag', '/os/stable/releases/x', 'must not have a query or a fragment'],
  ];

  it.each(hostile)('refuses %j (naively: %s)', (spelling, naively, problem) => {
    expect(naive(spelling)).toBe(naively);
    expect(() => resolvePayloadUrl(spelling, MANIFEST)).toThrow(
      expect.objectContaining({ code: 'ERR_MANIFEST_INVALID', message: `manifest from ${MANIFEST}: payload.url ${JSON.stringify(spelling)} ${problem}` }),
    );
    const manifest = serializeManifest({ ...valid, payload: { ...valid.payload, url: spelling } });
    expect(() => parseManifest(manifest, MANIFEST)).toThrow(expect.objectContaining({ code: 'ERR_MANIFEST_INVALID', message: expect.stringContaining(problem) as unknown }));
  });

  it.each([
    ['releases/1.0.1/payload.img.zst', MANIFEST, `${RELEASES}1.0.1/payload.img.zst`],
    ['releases/1.0.1+build.7/payload.img.zst', MANIFEST, `${RELEASES}1.0.1+build.7/payload.img.zst`],
    ['releases/1.0.1-rc.1/payload.img.zst', MANIFEST, `${RELEASES}1.0.1-rc.1/payload.img.zst`],
    // Each mirror resolves against its own channel directory.
    ['releases/1.0.1/payload.img.zst', 'http://127.0.0.1:8080/stable/manifest.json', 'http://127.0.0.1:8080/stable/releases/1.0.1/payload.img.zst'],
    ['releases/1.0.1/payload.img.zst', 'https://cdn.example:8443/a/b/beta/manifest.json', 'https://cdn.example:8443/a/b/beta/releases/1.0.1/payload.img.zst'],
  ])('resolves %s against %s', (spelling, manifest, resolved) => {
    expect(resolvePayloadUrl(spelling, manifest)).toBe(resolved);
  });
});
