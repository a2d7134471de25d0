// The agent's start and idle cost in a VM: the OS image booted once under QEMU's TCG (a FleetLab of
// one host, pointed at a real etcd and release server on loopback, checks every hour), then read
// through the guest agent. slipway.service is Type=dbus, so systemd's ActiveEnter is the moment the
// agent owns its name; CPU comes from the service's cgroup (what `systemctl show -p CPUUsageNSec`
// reads). The boot's own start is one sample, `systemctl restart` gives the others. Then the floor,
// the same way, the agent stopped: the bundled dbus-next script owning a name as a transient
// Type=dbus service, and `node -e ''`.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { FleetLab } from '../../qemu/fleet-lab.ts';
import { Timings } from '../../qemu/timings.ts';
import { bundleFloor, medianExit, NODE_FLOOR_SCRIPT } from './agent-bench-here.ts';
import { medianSample } from './start-sample.ts';
import type { ExitSample } from './agent-bench-here.ts';
import type { AgentCommand } from './agent-unit.ts';
import type { StartSample } from './start-sample.ts';

const HOST = 'bench-1';
const AGENT_UNIT = 'slipway.service';
const FLOOR_UNIT = 'slipway-bench-floor.service';
const FLOOR_SCRIPT = '/run/slipway-bench-floor.mjs';
const FLOOR_NAME = 'org.slipway.BenchFloor1';
const FLOOR_POLICY = '/etc/dbus-1/system.d/slipway-bench-floor.conf';
const NODE = '/usr/lib/slipway/node';
const DROPIN_DIR = `/run/systemd/system/${AGENT_UNIT}.d`;

export interface VmOptions {
  readonly restarts: number;
  readonly idleSeconds: number;
  /** The unit's flags: the floor runs with them too. */
  readonly command: AgentCommand;
  /** Whether to measure the floor too (three more minutes with three restarts). */
  readonly floor: boolean;
  /** Lines of a [Service] drop-in: each restart is then followed by one with it (B), to compare. */
  readonly variant: string | null;
  /** A directory copied into the guest first (another bundle for the variant to run). */
  readonly copy: { readonly from: string; readonly to: string } | null;
  readonly log: (line: string) => void;
}

export interface VmResult {
  /** The start during boot (the guest busy with everything else); its CPU at the name is not known. */
  readonly boot: StartSample;
  readonly restarts: number;
  readonly restart: StartSample;
  /** The restarts with the drop-in, if one was given. */
  readonly variant: StartSample | null;
  readonly dbusFloor: StartSample | null;
  readonly nodeFloor: ExitSample | null;
  /** Median seconds between owning the name and reading the CPU after a restart. */
  readonly readLagSeconds: number;
  readonly samples: readonly StartSample[];
  readonly bootSeconds: number;
}

/** `KEY=VALUE` words and lines of a guest script's output. */
function fields(text: string): Record<string, string> {
  return Object.fromEntries(text.split(/\s+/).filter((w) => w.includes('=')).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
}

const number = (record: Record<string, string>, key: string): number => {
  const value = Number(record[key]);
  if (record[key] === undefined || record[key] === '' || Number.isNaN(value)) throw new Error(`the guest did not report ${key}: ${JSON.stringify(record)}`);
  return value;
};

/**
 * A unit's CPU (cgroup), uptime, main process's RSS, then its start and active timestamps. Read with
 * the shell's builtins where the timing matters: a fork under TCG costs milliseconds.
 */
function readNow(unit: string): string {
  const cgroup = `/sys/fs/cgroup/system.slice/${unit}`;
  return `read -r k usage < ${cgroup}/cpu.stat; read -r up rest < /proc/uptime; read -r pid < ${cgroup}/cgroup.procs
while read -r k v u; do case $k in VmRSS:) rss=$v ;; RssAnon:) anon=$v ;; esac; done < /proc/$pid/status
echo "usage_usec=$usage uptime=$up pid=$pid rss_kb=$rss anon_kb=$anon"
systemctl show -p ExecMainStartTimestampMonotonic -p ActiveEnterTimestampMonotonic -p ActiveState ${unit}`;
}

interface Reading {
  readonly cpuSeconds: number;
  readonly uptime: number;
  readonly rssMiB: number;
  readonly anonMiB: number;
  readonly startedAt: number;
  readonly ownedAt: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export async function benchVm(options: VmOptions): Promise<VmResult> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-agent-bench-vm-'));
  const timings = new Timings((line) => options.log(`  ${line}`));
  let lab: FleetLab | null = null;
  try {
    lab = await timings.time('images, etcd, release server', () =>
      FleetLab.open({ dir, hosts: [HOST], first: '1.0.0', releases: [], agentSettings: { update: { first_check: '1h', interval: '1h' } }, timings }),
    );
    const opened = lab;
    const vm = opened.vm(HOST);
    const bootStarted = Date.now();
    await opened.boot();
    const bootSeconds = (Date.now() - bootStarted) / 1000;
    options.log(`booted in ${bootSeconds.toFixed(0)} s`);
    const sh = async (script: string): Promise<string> => {
      const run = await vm.exec('/bin/sh', ['-c', script], 300_000);
      if (run.code !== 0) throw new Error(`guest: ${script.split('\n')[0]} exited with ${run.code}: ${run.stderr}`);
      return run.stdout;
    };
    const read = async (script: string): Promise<Reading> => {
      const out = fields(await sh(script));
      if (out.ActiveState !== 'active') throw new Error(`the unit is ${out.ActiveState ?? 'unknown'} in the guest`);
      return {
        cpuSeconds: number(out, 'usage_usec') / 1e6,
        uptime: number(out, 'uptime'),
        rssMiB: number(out, 'rss_kb') / 1024,
        anonMiB: number(out, 'anon_kb') / 1024,
        startedAt: number(out, 'ExecMainStartTimestampMonotonic') / 1e6,
        ownedAt: number(out, 'ActiveEnterTimestampMonotonic') / 1e6,
      };
    };
    /** The rest of a sample: CPU at half the idle period, CPU and RSS at its end (guest uptime). */
    const idle = async (unit: string, start: Reading): Promise<{ half: number; end: Reading }> => {
      const until = async (at: number): Promise<Reading> => {
        const now = await read(readNow(unit));
        if (now.ownedAt !== start.ownedAt) throw new Error(`${unit} restarted by itself during the benchmark`);
        if (now.uptime >= at) return now;
        await sleep((at - now.uptime) * 1000);
        return read(readNow(unit));
      };
      const half = await until(start.ownedAt + options.idleSeconds / 2);
      const end = await until(start.ownedAt + options.idleSeconds);
      return { half: half.cpuSeconds, end };
    };
    const sample = (start: Reading, atStart: boolean, rest: { half: number; end: Reading }): StartSample => ({
      ownSeconds: start.ownedAt - start.startedAt,
      ownCpuSeconds: atStart ? start.cpuSeconds : null,
      rssStartMiB: atStart ? start.rssMiB : null,
      afterStartCpuSeconds: atStart ? rest.half - start.cpuSeconds : null,
      rssIdleMiB: rest.end.rssMiB,
      anonIdleMiB: rest.end.anonMiB,
      idleCpuSecondsPerHour: ((rest.end.cpuSeconds - rest.half) / (rest.end.uptime - start.ownedAt - options.idleSeconds / 2)) * 3600,
    });
    /** Starts a unit with `start` (a command that returns once it owns its name) and records it. */
    const startAndIdle = async (unit: string, start: string, lags: number[]): Promise<StartSample> => {
      const reading = await read(`${start} || { journalctl -u ${unit} --no-pager | tail -20 >&2; exit 1; }\n${readNow(unit)}`);
      lags.push(reading.uptime - reading.ownedAt);
      return sample(reading, true, await idle(unit, reading));
    };

    for (;;) {
      const state = (await sh(`systemctl is-active ${AGENT_UNIT} || true`)).trim();
      if (state === 'active') break;
      if (state === 'failed') throw new Error(`${AGENT_UNIT} failed at boot: ${await sh(`journalctl -b -u ${AGENT_UNIT} --no-pager | tail -20`)}`);
      await sleep(1_000);
    }
    const atBoot = await read(readNow(AGENT_UNIT));
    const boot = medianSample([sample(atBoot, false, await idle(AGENT_UNIT, atBoot))]);
    options.log(`at boot: owns its name ${boot.ownSeconds.toFixed(2)} s after its start; ${boot.rssIdleMiB.toFixed(0)} MiB after ${options.idleSeconds} s`);

    if (options.copy !== null) {
      for (const entry of await readdir(options.copy.from, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile() || entry.name.endsWith('.map')) continue;
        const path = join(entry.parentPath, entry.name);
        const target = join(options.copy.to, relative(options.copy.from, path));
        await sh(`mkdir -p ${dirname(target)}`);
        await vm.writeFile(target, await readFile(path));
      }
    }
    const samples: StartSample[] = [];
    const variantSamples: StartSample[] = [];
    const lags: number[] = [];
    for (let i = 1; i <= options.restarts; i++) {
      // A and B take turns in one boot, so a change in the host's load falls on both alike.
      for (const variant of options.variant === null ? [false] : [false, true]) {
        await sh(variant ? `mkdir -p ${DROPIN_DIR} && cat > ${DROPIN_DIR}/50-bench.conf <<'EOF'\n[Service]\n${options.variant ?? ''}\nEOF\nsystemctl daemon-reload; sleep 2` : `rm -f ${DROPIN_DIR}/50-bench.conf; systemctl daemon-reload; sleep 2`);
        // systemctl returns when the job is done: for Type=dbus, when the agent owns its name.
        const s = await startAndIdle(AGENT_UNIT, `systemctl restart ${AGENT_UNIT}`, lags);
        (variant ? variantSamples : samples).push(s);
        options.log(`restart ${i}/${options.restarts}${variant ? ' with the drop-in' : ''}: owns its name after ${s.ownSeconds.toFixed(2)} s, ${s.ownCpuSeconds?.toFixed(2)} s CPU, ${s.rssStartMiB?.toFixed(0)} MiB; ${s.rssIdleMiB.toFixed(0)} MiB after ${options.idleSeconds} s`);
      }
    }
    await sh(`rm -f ${DROPIN_DIR}/50-bench.conf; systemctl daemon-reload`);

    lags.sort((a, b) => a - b);
    const agent = {
      boot,
      restarts: options.restarts,
      restart: medianSample(samples),
      variant: variantSamples.length === 0 ? null : medianSample(variantSamples),
      readLagSeconds: Math.round((lags[Math.floor(lags.length / 2)] ?? 0) * 1000) / 1000,
      samples,
      bootSeconds,
    };
    if (!options.floor) return { ...agent, dbusFloor: null, nodeFloor: null };

    // The system bus lets root own only the names a policy grants, and systemd one service per name.
    await sh(`systemctl stop ${AGENT_UNIT}`);
    await vm.writeFile(FLOOR_POLICY, new TextEncoder().encode(`<busconfig><policy user="root"><allow own="${FLOOR_NAME}"/></policy></busconfig>\n`));
    await sh('systemctl reload dbus.service');
    await vm.writeFile(FLOOR_SCRIPT, await readFile(await bundleFloor(dir)));
    const flags = options.command.nodeFlags.join(' ');
    const floorSamples: StartSample[] = [];
    const nodeFloors: ExitSample[] = [];
    for (let i = 1; i <= options.restarts; i++) {
      const out = fields(await sh(`read -r t0 rest < /proc/uptime; out=$(${NODE} ${flags} -e "${NODE_FLOOR_SCRIPT.replaceAll('"', '\\"')}"); read -r t1 rest < /proc/uptime; echo "t0=$t0 t1=$t1 out=$out"`));
      const { cpu, rss } = JSON.parse(out.out ?? '{}') as { cpu: number; rss: number };
      nodeFloors.push({ exitSeconds: number(out, 't1') - number(out, 't0'), cpuSeconds: cpu, rssMiB: rss });
      const run = `systemd-run --quiet --unit=${FLOOR_UNIT} -p Type=dbus -p BusName=${FLOOR_NAME} ${NODE} ${flags} ${FLOOR_SCRIPT} ${FLOOR_NAME}`;
      floorSamples.push(await startAndIdle(FLOOR_UNIT, run, []));
      await sh(`systemctl stop ${FLOOR_UNIT}`);
    }
    options.log(`floor: dbus-next owns the name after ${medianSample(floorSamples).ownSeconds} s; node -e '' exits after ${medianExit(nodeFloors).exitSeconds} s`);
    return { ...agent, dbusFloor: medianSample(floorSamples), nodeFloor: medianExit(nodeFloors) };
  } finally {
    await lab?.close();
    await rm(dir, { recursive: true, force: true });
    options.log(timings.table('VM bench steps', false));
  }
}
