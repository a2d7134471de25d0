// The test release server's stall: every request, a resumed (Range) one too, stops at the same byte of
// the file and holds its connection open until the test lets the next request through.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReleaseServer } from './release-server.ts';
import type { ReleaseServer } from './release-server.ts';

/** The body bytes that arrive within `ms`, and whether the response ended. */
async function receive(url: string, headers: Record<string, string>, ms: number): Promise<{ bytes: number; ended: boolean }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  let bytes = 0;
  try {
    const response = await fetch(url, { headers, signal: controller.signal });
    if (response.body === null) return { bytes, ended: true };
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) bytes += chunk.length;
    return { bytes, ended: true };
  } catch {
    return { bytes, ended: false };
  } finally {
    clearTimeout(timer);
  }
}

describe('release server stalls', () => {
  let dir: string;
  let server: ReleaseServer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-release-server-'));
    await writeFile(join(dir, 'payload'), Buffer.alloc(1_000_000, 7));
    server = await startReleaseServer(dir);
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stops every request at the same offset of the file, resumed ones too, and counts a negative one from the end', async () => {
    let stallAt: number | null = 300_000;
    server.handle((_request, _response, serve) => serve(stallAt === null ? {} : { stallAt }));
    expect(await receive(`${server.url}/payload`, {}, 500)).toEqual({ bytes: 300_000, ended: false });
    expect(await receive(`${server.url}/payload`, { range: 'bytes=200000-' }, 500)).toEqual({ bytes: 100_000, ended: false });
    expect(await receive(`${server.url}/payload`, { range: 'bytes=400000-' }, 500)).toEqual({ bytes: 0, ended: false });
    stallAt = -100_000;
    expect(await receive(`${server.url}/payload`, { range: 'bytes=400000-' }, 500)).toEqual({ bytes: 500_000, ended: false });
    stallAt = null;
    expect(await receive(`${server.url}/payload`, { range: 'bytes=400000-' }, 5_000)).toEqual({ bytes: 600_000, ended: true });
  });
});
