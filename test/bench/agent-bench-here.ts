// The agent's start and idle cost on this machine: the bundle (dist/slipway.mjs) run with the unit's
// Node flags and environment against the agent test fixture (private system-like bus, real etcd,
// release server, sgdisk disk, systemd and logind stand-ins), beside its floor measured the same way
// in the same run: a bundled dbus-next script that only owns a name, and a bare `node -e ''`.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dbus from 'dbus-next';
import { build } from 'esbuild';
import { ESM_REQUIRE_BANNER } from '../../images/agent-runtime.ts';
import { startAgentFixture } from '../builders/agent-fixture.ts';
import { median, medianSample, round } from './start-sample.ts';
import type { ChildProcess } from 'node:child_process';
import type { AgentCommand } from './agent-unit.ts';
import type { StartSample } from './start-sample.ts';

const AGENT_NAME = 'org.slipway.Agent1';
const FLOOR_NAME = 'org.slipway.BenchFloor1';
/** USER_HZ: /proc/PID/stat counts CPU in these ticks (10 ms), so idle CPU is read to that resolution. */
const TICKS_PER_SECOND = 100;
const OWN_TIMEOUT_MS = 60_000;

export interface HereOptions {
  readonly runs: number;
  readonly idleSeconds: number;
  readonly bundle: string;
  readonly command: AgentCommand;
  readonly log: (line: string) => void;
}

/** A process that only starts and exits: wall time to its exit, its CPU and peak RSS. */
export interface ExitSample {
  readonly exitSeconds: number;
  readonly cpuSeconds: number;
  readonly rssMiB: number;
}

export interface HereResult {
  readonly runs: number;
  readonly agent: StartSample;
  readonly dbusFloor: StartSample;
  readonly nodeFloor: ExitSample;
  readonly samples: readonly StartSample[];
}

/** utime + stime of all the process's threads. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** VmRSS (or another line of /proc/PID/status counted in kB) in MiB. */
function rssMiB(pid: number, field = 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} for process ${pid}`);
  return Number(match[1]) / 1024;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** A process started and watched until it owns `name`, then through its idle period. */
class Watched {
  readonly child: ChildProcess;
  private readonly started: number;
  private stderr = '';
  private readonly owned = Promise.withResolvers<{ at: number; cpu: number; rss: number }>();

  constructor(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv, owners: Map<string, (at: number) => void>) {
    this.started = performance.now();
    this.child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-8_000);
    });
    this.child.once('exit', (code) => this.owned.reject(new Error(`${args.join(' ')} exited with ${code} before owning ${name}:\n${this.stderr}`)));
    // A start that never owns its name fails the run instead of hanging it.
    const timer = setTimeout(() => this.owned.reject(new Error(`${args.join(' ')} did not own ${name} within ${OWN_TIMEOUT_MS / 1000} s:\n${this.stderr}`)), OWN_TIMEOUT_MS);
    void this.owned.promise.then(() => clearTimeout(timer), () => clearTimeout(timer));
    // Read at the signal, synchronously: the agent goes on loading its lock client and update path.
    owners.set(name, (at) => {
      const pid = this.child.pid ?? 0;
      this.owned.resolve({ at, cpu: cpuSeconds(pid), rss: rssMiB(pid) });
    });
  }

  /** Settles once the process owns its name. */
  async owns(): Promise<void> {
    await this.owned.promise;
  }

  /** Waits for the name, then for the idle period; returns the sample. */
  async sample(idleSeconds: number): Promise<StartSample> {
    const owned = await this.owned.promise;
    const pid = this.child.pid ?? 0;
    await sleep(owned.at + (idleSeconds * 1000) / 2 - performance.now());
    const half = cpuSeconds(pid);
    await sleep(owned.at + idleSeconds * 1000 - performance.now());
    const end = cpuSeconds(pid);
    return {
      ownSeconds: (owned.at - this.started) / 1000,
      ownCpuSeconds: owned.cpu,
      rssStartMiB: owned.rss,
      afterStartCpuSeconds: half - owned.cpu,
      rssIdleMiB: rssMiB(pid),
      anonIdleMiB: rssMiB(pid, 'RssAnon'),
      idleCpuSecondsPerHour: ((end - half) / (idleSeconds / 2)) * 3600,
    };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** What the `node -e ''` floor runs: nothing but printing its own CPU seconds and peak RSS (MiB) at the end. */
export const NODE_FLOOR_SCRIPT = 'const u = process.resourceUsage(); process.stdout.write(JSON.stringify({ cpu: (u.userCPUTime + u.systemCPUTime) / 1e6, rss: u.maxRSS / 1024 }))';

/** `node -e ''` with the unit's flags: wall time to exit, and its own CPU and peak RSS at the end. */
async function nodeFloor(flags: readonly string[]): Promise<ExitSample> {
  const script = NODE_FLOOR_SCRIPT;
  const started = performance.now();
  const child = spawn(process.execPath, [...flags, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  await new Promise((resolve) => child.once('exit', resolve));
  const exitSeconds = (performance.now() - started) / 1000;
  const { cpu, rss } = JSON.parse(out) as { cpu: number; rss: number };
  return { exitSeconds, cpuSeconds: cpu, rssMiB: rss };
}

/** The floor script, bundled as the agent is (ESM, the same banner), so both load the same way. */
export async function bundleFloor(dir: string): Promise<string> {
  const outfile = join(dir, 'dbus-name-floor.mjs');
  await build({
    entryPoints: [join(import.meta.dirname, 'dbus-name-floor.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    external: ['x11', 'usocket'],
    banner: { js: ESM_REQUIRE_BANNER },
    logLevel: 'warning',
  });
  return outfile;
}

/** The unit's environment with its image paths moved to this machine's (the bundle, a cache directory). */
function hereEnv(command: AgentCommand, bundleDir: string, cacheDir: string): Record<string, string> {
  return Object.fromEntries(Object.entries(command.env).map(([name, value]) => [name, value.replace('/usr/lib/slipway', bundleDir).replace('/var/cache/slipway', cacheDir)]));
}

export function medianExit(samples: readonly ExitSample[]): ExitSample {
  return {
    exitSeconds: round(median(samples.map((n) => n.exitSeconds)), 3),
    cpuSeconds: round(median(samples.map((n) => n.cpuSeconds)), 3),
    rssMiB: round(median(samples.map((n) => n.rssMiB)), 1),
  };
}

export async function benchHere(options: HereOptions): Promise<HereResult> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-agent-bench-'));
  const floorScript = await bundleFloor(dir);
  const fixture = await startAgentFixture({ startAgent: false });
  // The bench's own connection watches names come and go; readings are taken in the signal handler.
  const watcher = dbus.sessionBus({ busAddress: fixture.bus.address });
  const owners = new Map<string, (at: number) => void>();
  try {
    const daemon = await watcher.getProxyObject('org.freedesktop.DBus', '/org/freedesktop/DBus');
    daemon.getInterface('org.freedesktop.DBus').on('NameOwnerChanged', (name: string, _old: string, owner: string) => {
      const at = performance.now();
      if (owner !== '') owners.get(name)?.(at);
    });
    const bundleDir = join(options.bundle, '..');
    const env = { ...fixture.env, ...hereEnv(options.command, bundleDir, join(dir, 'cache')) };
    const agentSamples: StartSample[] = [];
    const floorSamples: StartSample[] = [];
    const nodeFloors: ExitSample[] = [];
    for (let run = 1; run <= options.runs; run++) {
      nodeFloors.push(await nodeFloor(options.command.nodeFlags));
      // One start at a time (they would share two cores); the two idle periods overlap.
      const floor = new Watched(FLOOR_NAME, process.execPath, [...options.command.nodeFlags, floorScript, FLOOR_NAME], env, owners);
      const floorSample = floor.sample(options.idleSeconds);
      await floor.owns();
      const agent = new Watched(AGENT_NAME, process.execPath, [...options.command.nodeFlags, options.bundle, ...fixture.hostArgs, 'agent'], env, owners);
      try {
        const [a, f] = await Promise.all([agent.sample(options.idleSeconds), floorSample]);
        agentSamples.push(a);
        floorSamples.push(f);
        options.log(`run ${run}/${options.runs}: agent owns its name after ${a.ownSeconds.toFixed(3)} s, ${a.ownCpuSeconds?.toFixed(2)} s CPU, ${a.rssStartMiB?.toFixed(0)} MiB; ${a.rssIdleMiB.toFixed(0)} MiB after ${options.idleSeconds} s`);
      } finally {
        await Promise.all([agent.stop(), floor.stop()]);
      }
    }
    return {
      runs: options.runs,
      agent: medianSample(agentSamples),
      dbusFloor: medianSample(floorSamples),
      nodeFloor: medianExit(nodeFloors),
      samples: agentSamples,
    };
  } finally {
    watcher.disconnect();
    await fixture.close();
    await rm(dir, { recursive: true, force: true });
  }
}
