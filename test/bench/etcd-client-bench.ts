// Benchmark of the etcd client's cost at start (npm run bench:etcd-client [-- --runs 5 --etcd3-dir DIR
// --bundle dist/slipway.mjs]): against a real etcd on loopback, each client is loaded and makes one
// read in a fresh process (bundled as the OS image's bundle is, run with the agent's Node flags), and the
// CPU time and RSS of that process are taken: etcd3 (gRPC), got alone on etcd's JSON gateway,
// slipway's gateway client, and Node's http module alone for what got itself costs. etcd3 is measured only where a node_modules/etcd3 can be found
// (--etcd3-dir; slipway no longer depends on it). Each --bundle is a built slipway.mjs timed for a
// whole `slipway lock status`. Prints medians in a table; the last line is one JSON object.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { build } from 'esbuild';
import { AGENT_NODE_FLAGS, ESM_REQUIRE_BANNER } from '../../images/agent-runtime.ts';
import { httpByRequire } from '../../images/node-http-by-require.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import type { Plugin } from 'esbuild';

const run = promisify(execFile);
const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, 'etcd3-dir': { type: 'string', default: '.' }, bundle: { type: 'string', multiple: true, default: [] } } });
const runs = Number(values.runs);
const etcd3Package = resolve(values['etcd3-dir'], 'node_modules/etcd3');

interface ChildFigures {
  readonly bootCpuS: number;
  readonly loadCpuS: number;
  readonly callCpuS: number;
  readonly totalCpuS: number;
  readonly callMs: number;
  readonly loadedRssMiB: number;
  readonly rssMiB: number;
  readonly peakRssMiB: number;
}

/** What a preload reports at exit for a process the benchmark cannot change (a built slipway.mjs). */
const EXIT_REPORT = `import { readFileSync, writeSync } from 'node:fs';
process.on('exit', () => {
  const { user, system } = process.cpuUsage();
  const peak = Number(/^VmHWM:\\s+(\\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
  writeSync(2, '\\nBENCH ' + JSON.stringify({ totalCpuS: (user + system) / 1e6, rssMiB: process.memoryUsage().rss / 2 ** 20, peakRssMiB: peak / 1024 }) + '\\n');
});
`;

/** etcd3 reads its .proto files beside its sources at run time; a bundle elsewhere is pointed at them. */
const etcd3ProtoInPlace: Plugin = {
  name: 'etcd3-proto-in-place',
  setup(builder) {
    builder.onLoad({ filter: /etcd3[\\/]lib[\\/]connection-pool\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const rewritten = source.replace('`${__dirname}/../proto/rpc.proto`', JSON.stringify(join(etcd3Package, 'proto/rpc.proto')));
      if (rewritten === source) throw new Error(`etcd3's proto path moved in ${args.path}; update test/bench/etcd-client-bench.ts`);
      return { contents: rewritten, loader: 'js' };
    });
  },
};

const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

function medians<T extends object>(samples: readonly T[]): T {
  const first = samples[0];
  if (first === undefined) throw new Error('no samples');
  return Object.fromEntries(Object.keys(first).map((k) => [k, median(samples.map((s) => (s as Record<string, number>)[k] ?? Number.NaN))])) as T;
}

const dir = await mkdtemp(join(tmpdir(), 'slipway-etcd-bench-'));
const etcd = await startEtcd();
try {
  await build({
    entryPoints: { 'etcd-client-child': 'test/bench/etcd-client-child.ts' },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    // Each mode loads only its own client, as the agent's chunks do.
    splitting: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    banner: { js: ESM_REQUIRE_BANNER },
    plugins: [httpByRequire],
    logLevel: 'warning',
  });
  const hasEtcd3 = existsSync(join(etcd3Package, 'package.json'));
  if (hasEtcd3) {
    await build({
      stdin: { contents: "export { Etcd3 } from 'etcd3';", resolveDir: dir, loader: 'js' },
      nodePaths: [resolve(values['etcd3-dir'], 'node_modules')],
      outfile: join(dir, 'etcd3.mjs'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      banner: { js: ESM_REQUIRE_BANNER },
      plugins: [etcd3ProtoInPlace, httpByRequire],
      logLevel: 'warning',
    });
  }
  const preload = join(dir, 'exit-report.mjs');
  await writeFile(preload, EXIT_REPORT);

  const child = async (mode: string): Promise<ChildFigures> => {
    const { stdout } = await run(process.execPath, [...AGENT_NODE_FLAGS, join(dir, 'etcd-client-child.mjs'), mode, etcd.url, join(dir, 'etcd3.mjs')]);
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as ChildFigures;
  };
  const cli = async (bundle: string): Promise<Pick<ChildFigures, 'totalCpuS' | 'rssMiB' | 'peakRssMiB'>> => {
    const { stdout, stderr } = await run(process.execPath, [...AGENT_NODE_FLAGS, `--import=${preload}`, bundle, 'lock', 'status', '--etcd', etcd.url]);
    if (!stdout.includes('coreos.com/updateengine/rebootlock/semaphore')) throw new Error(`${bundle} lock status printed ${JSON.stringify(stdout)}`);
    return JSON.parse(/^BENCH (.*)$/m.exec(stderr)?.[1] ?? '{}') as Pick<ChildFigures, 'totalCpuS' | 'rssMiB' | 'peakRssMiB'>;
  };

  const modes = ['node', 'node-http', ...(hasEtcd3 ? ['etcd3', 'got+etcd3'] : []), 'got', 'gateway'];
  const clients: Record<string, ChildFigures> = {};
  const commands: Record<string, Pick<ChildFigures, 'totalCpuS' | 'rssMiB' | 'peakRssMiB'>> = {};
  // Interleaved rounds, so a busy moment of the shared machine falls on every row alike.
  const samples = new Map<string, ChildFigures[]>();
  const cliSamples = new Map<string, Pick<ChildFigures, 'totalCpuS' | 'rssMiB' | 'peakRssMiB'>[]>();
  for (let round = 0; round < runs; round++) {
    for (const mode of modes) samples.set(mode, [...(samples.get(mode) ?? []), await child(mode)]);
    for (const bundle of values.bundle) cliSamples.set(bundle, [...(cliSamples.get(bundle) ?? []), await cli(bundle)]);
  }
  for (const [mode, figures] of samples) clients[mode] = medians(figures);
  for (const [bundle, figures] of cliSamples) commands[bundle] = medians(figures);

  const f = (n: number, digits = 3): string => n.toFixed(digits).padStart(8);
  console.log(`medians of ${runs} runs, node ${process.version} ${AGENT_NODE_FLAGS.join(' ')}; etcd at ${etcd.url}`);
  console.log('client      load CPU s  call CPU s  total CPU s  call ms  RSS loaded MiB  RSS after MiB  peak RSS MiB');
  for (const [mode, m] of Object.entries(clients)) {
    console.log(`${mode.padEnd(10)}  ${f(m.loadCpuS)}    ${f(m.callCpuS)}    ${f(m.totalCpuS)}    ${f(m.callMs, 1)}  ${f(m.loadedRssMiB, 1)}        ${f(m.rssMiB, 1)}       ${f(m.peakRssMiB, 1)}`);
  }
  if (!hasEtcd3) console.log(`etcd3: not measured, no ${etcd3Package} (pass --etcd3-dir with a checkout that has it installed)`);
  for (const [bundle, m] of Object.entries(commands)) {
    console.log(`slipway lock status (${bundle}): total CPU ${m.totalCpuS.toFixed(3)} s, RSS at exit ${m.rssMiB.toFixed(1)} MiB, peak ${m.peakRssMiB.toFixed(1)} MiB`);
  }
  const round3 = (n: number): number => Math.round(n * 1000) / 1000;
  const round1 = (n: number): number => Math.round(n * 10) / 10;
  console.log(
    JSON.stringify({
      runs,
      clients: Object.fromEntries(Object.entries(clients).map(([mode, m]) => [mode, { load_cpu_s: round3(m.loadCpuS), call_cpu_s: round3(m.callCpuS), total_cpu_s: round3(m.totalCpuS), call_ms: round1(m.callMs), loaded_rss_mib: round1(m.loadedRssMiB), rss_mib: round1(m.rssMiB), peak_rss_mib: round1(m.peakRssMiB) }])),
      lock_status: Object.fromEntries(Object.entries(commands).map(([bundle, m]) => [bundle, { total_cpu_s: round3(m.totalCpuS), rss_mib: round1(m.rssMiB), peak_rss_mib: round1(m.peakRssMiB) }])),
    }),
  );
} finally {
  await etcd.stop();
  await rm(dir, { recursive: true, force: true });
}
