// Benchmark of the apply path (npm run bench:apply [-- --size 1 --size 4]): serves slot images of
// the given sizes (GiB) from a loopback HTTP server and, in the same run, times slipway's apply
// (download, zstd, SHA-256, write, re-read) against the shell pipeline
//   curl -s URL | zstd -dc | tee >(sha256sum) | dd of=SLOT bs=1M ; sha256sum SLOT
// Prints MB/s for both, their ratio, and slipway's peak RSS. The last line is one JSON object.

import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { build } from 'esbuild';
import { AGENT_NODE_FLAGS, ESM_REQUIRE_BANNER } from '../../images/agent-runtime.ts';
import { compressImage } from '../../images/payload-compress.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { size: { type: 'string', multiple: true, default: ['1', '4'] }, chunk: { type: 'string', default: '4' } } });
const sizes = values.size.map(Number);
const chunkMiB = Number(values.chunk);
for (const tool of ['curl', 'zstd', 'sha256sum', 'dd']) execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });

/** An OS-like image: a third random bytes, a third repeated blocks, a third zeros. */
async function makeImage(path: string, bytes: number): Promise<void> {
  const file = await open(path, 'w');
  const block = randomBytes(1024 * 1024);
  const zeros = Buffer.alloc(1024 * 1024);
  for (let at = 0, i = 0; at < bytes; at += block.length, i++) {
    const piece = i % 3 === 0 ? randomBytes(1024 * 1024) : i % 3 === 1 ? block : zeros;
    await file.write(piece.subarray(0, Math.min(piece.length, bytes - at)));
  }
  await file.close();
}

const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-'));
// Measure what the OS image ships: one bundled file, not type-stripped sources.
const childBundle = join(dir, 'apply-child.mjs');
await build({
  entryPoints: ['test/bench/apply-child.ts'],
  outfile: childBundle,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  banner: { js: ESM_REQUIRE_BANNER },
  logLevel: 'warning',
});
const server = await startReleaseServer(dir);
const results = { sizes_gib: [] as number[], slipway_mb_s: [] as number[], pipeline_mb_s: [] as number[], ratio: [] as number[], peak_rss_mib: [] as number[] };
try {
  for (const gib of sizes) {
    const bytes = Math.round(gib * 1024 ** 3);
    const image = join(dir, 'image.img');
    await makeImage(image, bytes);
    const payload = { url: 'payload.zst', ...(await compressImage(image, join(dir, 'payload.zst'), chunkMiB * 1024 * 1024, 3)) };
    await rm(image);
    await writeFile(join(dir, 'payload.json'), JSON.stringify(payload));
    const url = `${server.url}/payload.zst`;
    const mb = bytes / 1e6;

    const slot = join(dir, 'slot-slipway.img');
    await writeFile(slot, '');
    await truncate(slot, bytes);
    const { stdout } = await run(process.execPath, [...AGENT_NODE_FLAGS, childBundle, join(dir, 'payload.json'), url, slot], { maxBuffer: 1 << 20 });
    const child = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { seconds: number; maxRssMiB: number };
    await rm(slot);

    const pipeSlot = join(dir, 'slot-pipeline.img');
    const started = process.hrtime.bigint();
    const script = `set -o pipefail; curl -s "$1" | zstd -dc | tee >(sha256sum > "$2.sum") | dd of="$2" bs=1M status=none; sha256sum "$2" > "$2.reread"`;
    await run('bash', ['-c', script, 'pipeline', url, pipeSlot]);
    const pipeSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const { readFile } = await import('node:fs/promises');
    const streamed = (await readFile(`${pipeSlot}.sum`, 'utf8')).split(' ')[0];
    const reread = (await readFile(`${pipeSlot}.reread`, 'utf8')).split(' ')[0];
    if (streamed !== payload.imageSha256 || reread !== payload.imageSha256) throw new Error('pipeline produced a different image');
    await rm(pipeSlot);

    const slipwayRate = mb / child.seconds;
    const pipeRate = mb / pipeSeconds;
    results.sizes_gib.push(gib);
    results.slipway_mb_s.push(Math.round(slipwayRate));
    results.pipeline_mb_s.push(Math.round(pipeRate));
    results.ratio.push(Math.round((slipwayRate / pipeRate) * 100) / 100);
    results.peak_rss_mib.push(Math.round(child.maxRssMiB));
    console.log(
      `${gib} GiB (payload ${(payload.size / 1e6).toFixed(0)} MB): slipway ${slipwayRate.toFixed(0)} MB/s, pipeline ${pipeRate.toFixed(0)} MB/s, ` +
        `ratio ${(slipwayRate / pipeRate).toFixed(2)}, slipway peak RSS ${child.maxRssMiB.toFixed(0)} MiB`,
    );
    await rm(join(dir, 'payload.zst'));
  }
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
console.log(`image content: 1/3 random, 1/3 a repeated block, 1/3 zeros; zstd level 3, ${chunkMiB} MiB frames; agent flags: ${AGENT_NODE_FLAGS.join(' ')}`);
console.log(JSON.stringify(results));
