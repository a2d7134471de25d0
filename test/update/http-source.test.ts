// Fetching manifests and signatures from hostile or broken servers on loopback: size caps with and
// without Content-Length, slow drips, refused redirects, retries with backoff, and plain failures.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { backoffDelay, DEFAULT_HTTP_SETTINGS, HttpUpdateSource, refuseUnsafeRedirect } from '../../agent/update-io/http-update-source.ts';
import type { AddressInfo } from 'node:net';
import { startReleaseServer } from '../../qemu/release-server.ts';
import { tempDir } from '../builders/coreos-disk.ts';
import type { ReleaseServer } from '../../qemu/release-server.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import type { HttpSettings } from '../../agent/update-io/http-update-source.ts';

let dir: TempDir;
let server: ReleaseServer;
beforeAll(async () => {
  dir = await tempDir();
  await mkdir(join(dir.path, 'www'));
  await writeFile(join(dir.path, 'www', 'manifest.json'), '{"ok":true}\n');
  server = await startReleaseServer(join(dir.path, 'www'));
});
afterAll(async () => {
  await server.close();
  await dir.remove();
});
beforeEach(() => {
  server.handle(null);
  server.requests.length = 0;
});

const sleeps: number[] = [];
const clock = { now: () => new Date('2026-11-22T00:00:00Z'), sleep: (ms: number) => (sleeps.push(ms), Promise.resolve()) };
const settings: HttpSettings = { ...DEFAULT_HTTP_SETTINGS, idleTimeoutMs: 300, smallRequestDeadlineMs: 2_000, retries: 2, backoffBaseMs: 1, backoffMaxMs: 2 };
const source = (overrides: Partial<HttpSettings> = {}): HttpUpdateSource => new HttpUpdateSource({ ...settings, ...overrides }, clock, () => 0.5);

describe('fetching small documents', () => {
  it('fetches a manifest', async () => {
    expect(Buffer.from(await source().fetchSmall(`${server.url}/manifest.json`, 1024)).toString()).toBe('{"ok":true}\n');
  });

  it('aborts an endless response without Content-Length at the cap', async () => {
    let sent = 0;
    server.handle((_req, res) => {
      res.writeHead(200);
      const pump = (): void => {
        while (sent < 50 * 1024 * 1024 && res.write(Buffer.alloc(16 * 1024, 0x61))) sent += 16 * 1024;
        if (sent < 50 * 1024 * 1024) res.once('drain', pump);
      };
      res.on('close', () => (sent = Number.MAX_SAFE_INTEGER));
      pump();
    });
    await expect(source().fetchSmall(`${server.url}/manifest.json`, 64 * 1024)).rejects.toMatchObject({
      code: 'ERR_HTTP_TOO_LARGE',
      message: expect.stringContaining('larger than the 65536-byte limit') as unknown,
    });
  });

  it('refuses a declared Content-Length over the cap', async () => {
    server.handle((_req, res) => {
      res.writeHead(200, { 'content-length': 10 * 1024 * 1024 });
      res.write(Buffer.alloc(1024));
    });
    await expect(source().fetchSmall(`${server.url}/manifest.json`, 4096)).rejects.toMatchObject({ code: 'ERR_HTTP_TOO_LARGE' });
  });

  it('gives up on a slow drip at the idle timeout, and says so', async () => {
    server.handle((_req, res) => {
      res.writeHead(200);
      res.write('{');
      // then nothing more: a drip slower than the idle timeout
    });
    await expect(source({ retries: 0 }).fetchSmall(`${server.url}/manifest.json`, 4096)).rejects.toMatchObject({ code: 'ERR_HTTP_TIMEOUT' });
  });

  it('gives up at the overall deadline when bytes keep trickling in', async () => {
    server.handle((_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(timer));
    });
    await expect(source({ retries: 0, smallRequestDeadlineMs: 700 }).fetchSmall(`${server.url}/manifest.json`, 1024 * 1024)).rejects.toMatchObject({
      code: 'ERR_HTTP_TIMEOUT',
    });
  });

  it.each([
    ['file://', 'file:///etc/shadow', 'only http and https are allowed'],
    ['ftp://', 'ftp://127.0.0.1/manifest.json', 'only http and https are allowed'],
  ])('refuses a redirect to %s', async (_name, location, message) => {
    server.handle((_req, res) => void res.writeHead(302, { location }).end());
    await expect(source().fetchSmall(`${server.url}/manifest.json`, 4096)).rejects.toMatchObject({
      code: 'ERR_HTTP_REDIRECT_REFUSED',
      message: expect.stringContaining(message) as unknown,
    });
  });

  it('caps the number of redirects', async () => {
    server.handle((req, res) => void res.writeHead(302, { location: `${req.url ?? '/'}x` }).end());
    await expect(source({ maxRedirects: 3 }).fetchSmall(`${server.url}/manifest.json`, 4096)).rejects.toMatchObject({ code: 'ERR_HTTP_REDIRECT_REFUSED' });
    expect(server.requests).toHaveLength(4);
  });

  it('retries a 503 with backoff and succeeds', async () => {
    let calls = 0;
    server.handle((_req, res, serve) => (calls++ < 2 ? void res.writeHead(503).end() : serve()));
    expect(Buffer.from(await source().fetchSmall(`${server.url}/manifest.json`, 4096)).toString()).toContain('ok');
    expect(server.requests).toHaveLength(3);
  });

  it('fails on 404 without retrying, naming the URL and status', async () => {
    await expect(source().fetchSmall(`${server.url}/nothing.json`, 4096)).rejects.toMatchObject({
      code: 'ERR_HTTP',
      message: `failed to fetch ${server.url}/nothing.json: HTTP 404`,
    });
    expect(server.requests).toHaveLength(1);
  });
});

describe('redirect rules', () => {
  it('refuses https to http, allows https to https and http to https', () => {
    expect(() => refuseUnsafeRedirect('https://updates.example/a', 'http://updates.example/a')).toThrow(
      expect.objectContaining({ code: 'ERR_HTTP_REDIRECT_REFUSED', message: expect.stringContaining('https must not fall back to http') as unknown }),
    );
    expect(() => refuseUnsafeRedirect('https://a.example/x', 'https://cdn.example/x')).not.toThrow();
    expect(() => refuseUnsafeRedirect('http://a.example/x', 'https://cdn.example/x')).not.toThrow();
  });
  it('follows an allowed redirect to the same server', async () => {
    server.handle((req, res, serve) => (req.url === '/old.json' ? void res.writeHead(301, { location: '/manifest.json' }).end() : serve()));
    expect(Buffer.from(await source().fetchSmall(`${server.url}/old.json`, 4096)).toString()).toContain('ok');
  });
});

describe('proxy setting', () => {
  it('sends every request through the configured proxy', async () => {
    const seen: string[] = [];
    const proxy = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(200, { 'content-length': 9 }).end('via proxy');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = proxy.address() as AddressInfo;
      const body = await source({ proxy: `http://127.0.0.1:${port}` }).fetchSmall('http://updates.example.invalid/stable/manifest.json', 4096);
      expect(Buffer.from(body).toString()).toBe('via proxy');
      expect(seen).toEqual(['http://updates.example.invalid/stable/manifest.json']);
    } finally {
      proxy.closeAllConnections();
      proxy.close();
    }
  });
});

describe('payload opens', () => {
  it('retry a 5xx with backoff from the injected clock, then give up', async () => {
    sleeps.length = 0;
    server.handle((_req, res) => void res.writeHead(502).end());
    await expect(source().payloadSource(`${server.url}/manifest.json`).open(0)).rejects.toMatchObject({ code: 'ERR_HTTP' });
    expect(server.requests).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });
});

describe('minimum transfer rate', () => {
  /** A payload of `bytes` sent one byte at a time, the test clock moving `msPerByte` with each: a drip, without waiting for it. */
  function drip(bytes: number, msPerByte: number, clock: { at: number }): void {
    server.handle((_req, res) => {
      res.writeHead(200, { 'content-length': bytes });
      let sent = 0;
      const next = (): void => {
        if (res.destroyed) return;
        if (sent++ >= bytes) return void res.end();
        clock.at += msPerByte;
        res.write('x', () => setImmediate(next));
      };
      next();
    });
  }
  const readAll = async (body: AsyncIterable<Uint8Array>): Promise<number> => {
    let total = 0;
    for await (const piece of body) total += piece.length;
    return total;
  };
  const clocked = (clock: { at: number }, overrides: Partial<HttpSettings>): HttpUpdateSource =>
    new HttpUpdateSource({ ...settings, ...overrides }, { now: () => new Date(clock.at), sleep: () => Promise.resolve() }, () => 0.5);

  it('fails a payload that drips below the floor, naming the rate seen and the bound', async () => {
    // One byte a second (on the injected clock) against a floor of 1 KiB/s over 2 s.
    const clock = { at: 0 };
    drip(200, 1_000, clock);
    const { body } = await clocked(clock, { minRateBytesPerSecond: 1024, rateWindowMs: 2_000 }).payloadSource(`${server.url}/payload`).open(0);
    await expect(readAll(body)).rejects.toMatchObject({
      code: 'ERR_TRANSFER_TOO_SLOW',
      message: expect.stringMatching(/^payload transfer from http:\/\/127\.0\.0\.1:\d+\/payload is too slow: \d+ B\/s over the last [\d.]+ s, below the minimum of 1 KiB\/s/) as unknown,
    });
    // Given up at the first window that fell short, not after the whole drip.
    expect(clock.at).toBeLessThan(200_000);
  });

  it('lets a payload through that keeps above the floor, however long it takes', async () => {
    // 200 bytes at 100 ms each (10 B/s) against a floor of 8 B/s over 1 s: 20 s of clock time.
    const clock = { at: 0 };
    drip(200, 100, clock);
    const { body } = await clocked(clock, { minRateBytesPerSecond: 8, rateWindowMs: 1_000 }).payloadSource(`${server.url}/payload`).open(0);
    expect(await readAll(body)).toBe(200);
    expect(clock.at).toBe(20_000);
  });

  it('bounds response headers that drip, by the rate window', async () => {
    // Header bytes every 100 ms keep the socket out of its idle timeout; the headers never end.
    server.handle((req) => {
      req.socket.write('HTTP/1.1 200 OK\r\n');
      const timer = setInterval(() => req.socket.write('x'), 100);
      req.socket.once('close', () => clearInterval(timer));
    });
    const source = new HttpUpdateSource({ ...settings, retries: 0, rateWindowMs: 700 }, clock, () => 0.5);
    await expect(source.payloadSource(`${server.url}/payload`).open(0)).rejects.toMatchObject({ code: 'ERR_HTTP_TIMEOUT' });
  });

  it('is off with a floor of 0', async () => {
    const clock = { at: 0 };
    drip(50, 60_000, clock);
    const { body } = await clocked(clock, { minRateBytesPerSecond: 0, rateWindowMs: 1_000 }).payloadSource(`${server.url}/payload`).open(0);
    expect(await readAll(body)).toBe(50);
  });
});

describe('backoff', () => {
  it('grows exponentially, is capped, and is jittered below the bound', () => {
    const s = { ...DEFAULT_HTTP_SETTINGS, backoffBaseMs: 1000, backoffMaxMs: 8000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, s, () => 0.999999))).toEqual([999, 1999, 3999, 7999, 7999]);
    expect(backoffDelay(3, s, () => 0)).toBe(0);
    expect(backoffDelay(3, s, () => 0.5)).toBe(2000);
  });
});
