// Benchmark of the agent's start and idle cost: npm run bench:agent [-- --here-only | --vm-only]
// [--runs 3] [--restarts 3] [--idle 60] [--no-vm-floor] [--vm-ab LINES] [--node-flag F]… [--env N=V]…
// Bundles the agent as the OS image ships it and measures, on this machine and in a VM under TCG, the
// time to own org.slipway.Agent1, the CPU spent by then, RSS then and after the idle period, the CPU
// it loads right after answering, and its idle CPU per hour (checks every hour). Medians are printed
// as a table beside the floor (Node alone, dbus-next owning a name); the last line is one JSON object.
// --node-flag and --env add to the unit's own on this machine; --vm-ab compares a drop-in in the VM,
// --vm-ab-ref another git ref's bundle (restarts take turns, so the host's load falls on both alike).

import { execFile } from 'node:child_process';
import { mkdtemp, symlink } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { benchHere } from './agent-bench-here.ts';
import { benchVm } from './agent-bench-vm.ts';
import { readAgentUnit } from './agent-unit.ts';
import { sampleJson, sampleTable } from './start-sample.ts';
import type { ExitSample, HereResult } from './agent-bench-here.ts';
import type { StartSample } from './start-sample.ts';
import type { VmResult } from './agent-bench-vm.ts';

const REPO = join(import.meta.dirname, '..', '..');
/** Where --vm-ab-ref puts the other bundle in the guest (read-only to the sandboxed unit, which is enough). */
const REF_DIR = '/run/slipway-ref';
const { values } = parseArgs({
  allowNegative: true,
  options: {
    // --no-vm-floor: only the agent in the VM (its floor takes three more minutes), to try an option.
    'vm-floor': { type: 'boolean', default: true },
    // --vm-ab 'Environment=NODE_DISABLE_COMPILE_CACHE=1': every restart in the VM is followed by one with these
    // [Service] lines in a drop-in (\n between lines), so the two are compared in the same boot.
    'vm-ab': { type: 'string' },
    // --vm-ab-ref main: the same, B being that git ref's bundle (built here, copied into the guest) run
    // with its unit's Node flags.
    'vm-ab-ref': { type: 'string' },
    'here-only': { type: 'boolean', default: false },
    'vm-only': { type: 'boolean', default: false },
    runs: { type: 'string', default: '3' },
    restarts: { type: 'string', default: '3' },
    idle: { type: 'string', default: '60' },
    'node-flag': { type: 'string', multiple: true, default: [] },
    env: { type: 'string', multiple: true, default: [] },
  },
});
if (values['here-only'] && values['vm-only']) throw new Error('--here-only and --vm-only exclude each other');
if (values['vm-ab'] !== undefined && values['vm-ab-ref'] !== undefined) throw new Error('--vm-ab and --vm-ab-ref exclude each other');
const idleSeconds = Number(values.idle);
const log = (line: string): void => console.log(line);

const unit = await readAgentUnit();
const command = {
  nodeFlags: [...unit.nodeFlags, ...values['node-flag']],
  env: { ...unit.env, ...Object.fromEntries(values.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])) },
};

// The machine is shared: its load says how far the figures of this run can be compared with another's.
const loadBefore = loadavg()[0] ?? 0;
let here: HereResult | null = null;
let vm: VmResult | null = null;
if (!values['vm-only']) {
  await promisify(execFile)(process.execPath, [join(REPO, 'images', 'bundle.ts')], { cwd: REPO });
  log(`on this machine: dist/slipway.mjs with ${command.nodeFlags.join(' ') || 'no flags'}${Object.keys(command.env).length > 0 ? ` and ${Object.entries(command.env).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}, ${values.runs} runs, ${idleSeconds} s idle each`);
  here = await benchHere({ runs: Number(values.runs), idleSeconds, bundle: join(REPO, 'dist', 'slipway.mjs'), command, log });
}
/** The bundle of a git ref, built from its own sources with this tree's node_modules, and its unit's Node flags. */
async function refBundle(ref: string): Promise<{ dist: string; nodeFlags: readonly string[] }> {
  const tree = await mkdtemp(join(tmpdir(), 'slipway-bench-ref-'));
  await promisify(execFile)('sh', ['-c', `git -C "$1" archive "$2" | tar -x -C "$3"`, 'sh', REPO, ref, tree]);
  await symlink(join(REPO, 'node_modules'), join(tree, 'node_modules'));
  await promisify(execFile)(process.execPath, [join(tree, 'images', 'bundle.ts')], { cwd: tree });
  return { dist: join(tree, 'dist'), nodeFlags: (await readAgentUnit(join(tree, 'images', 'units', 'slipway.service'))).nodeFlags };
}

if (!values['here-only']) {
  const ref = values['vm-ab-ref'];
  const refBuilt = ref === undefined ? null : await refBundle(ref);
  const refLines = `ExecStart=\nExecStart=/usr/lib/slipway/node ${refBuilt?.nodeFlags.join(' ') ?? ''} ${REF_DIR}/slipway.mjs agent`;
  log(`in a VM (QEMU TCG, 2 vCPUs, the OS image with the unit's flags): one boot, ${values.restarts} restarts, ${idleSeconds} s idle each`);
  vm = await benchVm({ restarts: Number(values.restarts), idleSeconds, command: unit, floor: values['vm-floor'], variant: (refBuilt === null ? values['vm-ab'] : refLines)?.replaceAll('\\n', '\n') ?? null, copy: refBuilt === null ? null : { from: refBuilt.dist, to: REF_DIR }, log });
}

/** A process that only exits, in the table's columns: its exit as "owns name", its peak RSS as "RSS then". */
const exitRow = (floor: ExitSample): StartSample => ({ ownSeconds: floor.exitSeconds, ownCpuSeconds: floor.cpuSeconds, rssStartMiB: floor.rssMiB, afterStartCpuSeconds: null, rssIdleMiB: Number.NaN, anonIdleMiB: null, idleCpuSecondsPerHour: Number.NaN });
const exitJson = (floor: ExitSample): Record<string, number> => ({ exit_s: floor.exitSeconds, cpu_s: floor.cpuSeconds, rss_mib: floor.rssMiB });

const half = idleSeconds / 2;
console.log(`\n"CPU after": CPU in the ${half} s after owning the name (the lock client and update path load then); "RSS idle": ${idleSeconds} s after, "of it anon" its anonymous part (the rest is file pages, mostly of the node binary); "idle CPU": the last ${half} s, per hour.`);
if (here !== null) {
  console.log(`\nThis machine, median of ${here.runs} runs:`);
  console.log(
    sampleTable([
      ['slipway agent (bundle)', here.agent],
      ['floor: dbus-next owns a name', here.dbusFloor],
      ['floor: node -e \'\' (to exit)', exitRow(here.nodeFloor)],
    ]),
  );
}
if (vm !== null) {
  console.log(`\nVM under TCG (boot to guest agent ${vm.bootSeconds.toFixed(0)} s), median of ${vm.restarts} restarts; CPU and RSS read ${vm.readLagSeconds} s after the name was owned (the boot's only at the end):`);
  console.log(
    sampleTable([
      ['slipway agent, systemctl restart', vm.restart],
      ...(vm.variant === null ? [] : ([[values['vm-ab-ref'] === undefined ? `the same with ${values['vm-ab'] ?? ''}` : `the same, ${values['vm-ab-ref']}'s bundle and flags`, vm.variant]] as const)),
      ['slipway agent, at boot', vm.boot],
      ...(vm.dbusFloor === null || vm.nodeFloor === null
        ? []
        : ([
            ['floor: dbus-next owns a name', vm.dbusFloor],
            ['floor: node -e \'\' (to exit)', exitRow(vm.nodeFloor)],
          ] as const)),
    ]),
  );
}
const load = [loadBefore, loadavg()[0] ?? 0].map((l) => Math.round(l * 100) / 100);
console.log(`\nload average (1 min) before and after: ${load.join(', ')} on ${cpus().length} cores`);
console.log(
  JSON.stringify({
    idle_s: idleSeconds,
    load_avg: load,
    node_flags: command.nodeFlags,
    env: command.env,
    here: here === null ? null : { runs: here.runs, agent: sampleJson(here.agent), dbus_floor: sampleJson(here.dbusFloor), node_floor: exitJson(here.nodeFloor) },
    vm: vm === null ? null : { restarts: vm.restarts, agent: sampleJson(vm.restart), ...(vm.variant === null ? {} : { ab: values['vm-ab'] ?? `bundle of ${values['vm-ab-ref'] ?? ''}`, agent_with_dropin: sampleJson(vm.variant) }), at_boot: sampleJson(vm.boot), dbus_floor: vm.dbusFloor && sampleJson(vm.dbusFloor), node_floor: vm.nodeFloor && exitJson(vm.nodeFloor), cpu_read_lag_s: vm.readLagSeconds, boot_s: Math.round(vm.bootSeconds) },
  }),
);
