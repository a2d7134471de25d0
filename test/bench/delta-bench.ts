// Benchmark of delta updates (npm run bench:delta): builds real squashfs slot images with mksquashfs
// from directory trees of this machine's /usr (not the OS image build: that needs mmdebstrap and
// minutes per image), a base and three successors: (a) one small file changed (a version string,
// one byte longer), (b) a package-sized directory added (python's pygments), (c) a bundle-sized
// file rebuilt (slipway's own agent bundle, minified this time). Each is published as format 4 and
// served from a loopback HTTP server; for each, delta apply (the booted slot holding the base, the
// target slot empty) and full apply run in their own processes. Prints bytes fetched, requests,
// wall time and peak RSS of both; the last line is one JSON object.

import { execFile, execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { build } from 'esbuild';
import { AGENT_NODE_FLAGS, ESM_REQUIRE_BANNER } from '../../images/agent-runtime.ts';
import { compressImage } from '../../images/payload-compress.ts';
import { DEFAULT_CHUNKING } from '../../images/content-chunker.ts';
import { DEFAULT_CHUNK_SIZE, DELTA_MANIFEST_FORMAT } from '../../images/release-manifest.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import type { ReleaseManifest } from '../../images/release-manifest.ts';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    // The trees the base image is made of: about 800 MB of /usr, a squashfs of some 250 MiB.
    source: { type: 'string', multiple: true, default: ['/usr/lib/python3.11', '/usr/lib/python3', '/usr/share/perl', '/usr/lib/x86_64-linux-gnu'] },
    package: { type: 'string', default: '/usr/lib/python3/dist-packages/pygments' },
  },
});
for (const tool of ['mksquashfs']) execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });

const dir = await mkdtemp(join(tmpdir(), 'slipway-delta-bench-'));
const www = join(dir, 'www');
await mkdir(www);

async function bundle(entry: string, outfile: string, minify = false): Promise<void> {
  // As images/bundle.ts builds the agent: dbus-next's optional X11 and usocket transports left out.
  await build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node24', banner: { js: ESM_REQUIRE_BANNER }, logLevel: 'warning', minify, external: ['x11', 'usocket'] });
}

/** A top-level directory "aaa-etc" (first in the image, so a change there shifts everything after it). */
async function etc(name: string, version: string, minified: boolean): Promise<string> {
  const path = join(dir, name, 'aaa-etc');
  await mkdir(path, { recursive: true });
  await writeFile(join(path, 'os-release'), `NAME=slipway\nVERSION=${version}\n`);
  await bundle('agent/main.ts', join(path, 'slipway.mjs'), minified);
  return path;
}

/** Reproducible: fixed times and owners, so only what changed in the tree changes in the image. */
async function squash(out: string, sources: readonly string[]): Promise<void> {
  await run('mksquashfs', [...sources, out, '-noappend', '-comp', 'zstd', '-Xcompression-level', '3', '-all-root', '-mkfs-time', '0', '-all-time', '0', '-no-progress', '-quiet'], { maxBuffer: 1 << 24 });
}

const childBundles = { full: join(dir, 'apply-child.mjs'), delta: join(dir, 'delta-child.mjs') };
await bundle('test/bench/apply-child.ts', childBundles.full);
await bundle('test/bench/delta-child.ts', childBundles.delta);

const started = Date.now();
const base = join(dir, 'base.img');
await squash(base, [await etc('etc-base', '1.0.0', false), ...values.source]);
const variants: [string, string, readonly string[]][] = [
  ['a: one small file changed', 'a.img', [await etc('etc-a', '1.0.10', false), ...values.source]],
  ['b: a package-sized directory added', 'b.img', [await etc('etc-b', '1.0.0', false), ...values.source, values.package]],
  ['c: a bundle-sized file rebuilt', 'c.img', [await etc('etc-c', '1.0.0', true), ...values.source]],
];
for (const [, file, sources] of variants) await squash(join(dir, file), sources);
const buildSeconds = (Date.now() - started) / 1000;

// The base as it was published: its index is what a host running it finds on the server.
const baseIndex = join(dir, 'base.chunks.idx');
await compressImage(base, join(dir, 'base.zst'), DEFAULT_CHUNK_SIZE, 3, { chunking: DEFAULT_CHUNKING, indexPath: baseIndex });
await rm(join(dir, 'base.zst'));
const server = await startReleaseServer(www);
const results: Record<string, unknown>[] = [];
try {
  for (const [label, file] of variants) {
    const image = join(dir, file);
    // The publisher's layout: <channel>/releases/<version>/, the booted release's beside the new one's.
    const channel = join(www, file.replace('.img', ''));
    const release = join(channel, 'releases', 'new');
    await mkdir(release, { recursive: true });
    const compressed = await compressImage(image, join(release, 'payload.zst'), DEFAULT_CHUNK_SIZE, 3, { chunking: DEFAULT_CHUNKING, indexPath: join(release, 'payload.zst.chunks.idx') });
    const { chunkIndex, ...payload } = compressed;
    if (chunkIndex === undefined) throw new Error('no index written');
    const manifest: ReleaseManifest = {
      format: DELTA_MANIFEST_FORMAT,
      channel: 'bench',
      version: '1.0.1',
      created: new Date().toISOString(),
      expires: new Date(Date.now() + 86_400_000).toISOString(),
      arch: 'x86_64',
      board: 'bench',
      payload: { url: 'releases/new/payload.zst', ...payload, index: { url: 'releases/new/payload.zst.chunks.idx', size: chunkIndex.size, sha256: chunkIndex.sha256 } },
    };
    await mkdir(join(channel, 'releases', 'base'));
    await copyFile(baseIndex, join(channel, 'releases', 'base', 'payload.zst.chunks.idx'));
    const manifestJson = join(dir, `${file}.manifest.json`);
    await writeFile(manifestJson, JSON.stringify(manifest));
    await writeFile(join(dir, `${file}.payload.json`), JSON.stringify(manifest.payload));
    const manifestUrl = `${server.url}/${file.replace('.img', '')}/manifest.json`;

    const slot = join(dir, 'slot.img');
    const measure = async (args: string[]): Promise<{ child: Record<string, number | string>; bytes: number; requests: number }> => {
      await rm(slot, { force: true });
      await writeFile(slot, '');
      await truncate(slot, payload.imageSize);
      const sent = server.bytesSent;
      const asked = server.requests.length;
      const { stdout } = await run(process.execPath, [...AGENT_NODE_FLAGS, ...args], { maxBuffer: 1 << 20 });
      const child = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, number | string>;
      const payloadRequests = server.requests.slice(asked).filter((r) => r.path.endsWith('/payload.zst')).length;
      return { child, bytes: server.bytesSent - sent, requests: payloadRequests };
    };
    // The booted release's index published (the usual case) and not (the slot is cut, in lite mode).
    const delta = await measure([childBundles.delta, manifestJson, manifestUrl, base, slot, 'base']);
    const cut = await measure([childBundles.delta, manifestJson, manifestUrl, base, slot, 'unpublished']);
    const full = await measure([childBundles.full, join(dir, `${file}.payload.json`), `${server.url}/${file.replace('.img', '')}/releases/new/payload.zst`, slot]);
    const row = {
      case: label,
      image_bytes: payload.imageSize,
      payload_bytes: payload.size,
      index_bytes: chunkIndex.size,
      chunks: chunkIndex.chunkCount,
      delta_bytes: delta.bytes,
      delta_requests: delta.requests,
      delta_percent_of_full: Math.round((delta.bytes / full.bytes) * 10_000) / 100,
      delta_seconds: Math.round(Number(delta.child.seconds) * 100) / 100,
      delta_prepare_seconds: Math.round(Number(delta.child.prepareSeconds) * 100) / 100,
      delta_peak_rss_mib: Math.round(Number(delta.child.maxRssMiB)),
      cut_bytes: cut.bytes,
      cut_requests: cut.requests,
      cut_seconds: Math.round(Number(cut.child.seconds) * 100) / 100,
      cut_prepare_seconds: Math.round(Number(cut.child.prepareSeconds) * 100) / 100,
      cut_peak_rss_mib: Math.round(Number(cut.child.maxRssMiB)),
      full_bytes: full.bytes,
      full_requests: full.requests,
      full_seconds: Math.round(Number(full.child.seconds) * 100) / 100,
      full_peak_rss_mib: Math.round(Number(full.child.maxRssMiB)),
    };
    results.push(row);
    console.log(
      `${label}: image ${(payload.imageSize / 2 ** 20).toFixed(1)} MiB, ${chunkIndex.chunkCount} chunks; ` +
        `delta ${(delta.bytes / 2 ** 20).toFixed(2)} MiB in ${delta.requests} requests (${row.delta_percent_of_full}% of full, index ${(chunkIndex.size / 1024).toFixed(0)} KiB included), ${row.delta_seconds} s (${row.delta_prepare_seconds} s finding chunks), peak RSS ${row.delta_peak_rss_mib} MiB; ` +
        `delta cutting the booted slot (no published index) ${(cut.bytes / 2 ** 20).toFixed(2)} MiB in ${cut.requests} requests, ${row.cut_seconds} s (${row.cut_prepare_seconds} s finding chunks), peak RSS ${row.cut_peak_rss_mib} MiB; ` +
        `full ${(full.bytes / 2 ** 20).toFixed(2)} MiB in ${full.requests} request, ${row.full_seconds} s, peak RSS ${row.full_peak_rss_mib} MiB`,
    );
  }
} finally {
  await server.close();
  const baseSize = (await stat(base)).size;
  await rm(dir, { recursive: true, force: true });
  console.log(
    `images: squashfs (mksquashfs -comp zstd -Xcompression-level 3, fixed times) of ${values.source.join(' ')} plus aaa-etc/{os-release,slipway.mjs}; base ${(baseSize / 2 ** 20).toFixed(1)} MiB, built in ${buildSeconds.toFixed(0)} s; ` +
      `chunking ${DEFAULT_CHUNKING.minSize / 1024}/${DEFAULT_CHUNKING.avgSize / 1024}/${DEFAULT_CHUNKING.maxSize / 1024} KiB in ${DEFAULT_CHUNK_SIZE / 2 ** 20} MiB groups; loopback HTTP; target slot empty; agent flags: ${AGENT_NODE_FLAGS.join(' ')}`,
  );
}
console.log(JSON.stringify({ cases: results }));
