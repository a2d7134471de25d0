// `npm run demo`: a rolling update of three VMs under a fleet reboot lock, on this machine. Builds the
// OS images (the Debian base tree is cached), starts a real etcd and the update server on loopback,
// boots three hosts on 1.0.0, publishes 1.0.1 and shows live what each host's agent does: they find
// the release on their own, download it into the other slot, and reboot one at a time holding the
// lock, which each gives back only after its new boot passed the health gate. Ends with a timeline
// and the lock's whole etcd history; Ctrl-C tears everything down at any moment.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FleetLab } from './fleet-lab.ts';
import { diffFleet, lockVerdict, renderFleet, renderTimeline } from './rollout-view.ts';
import { Timings } from './timings.ts';
import type { FleetView, TimelineEvent } from './rollout-view.ts';

const HOSTS = ['host-1', 'host-2', 'host-3'];
const LIMIT_MS = 40 * 60_000;
const tty = process.stdout.isTTY;
const say = (line: string): void => void process.stdout.write(`${tty ? `\u001b[1m${line}\u001b[0m` : line}\n`);

const timings = new Timings((line) => void process.stdout.write(`     ${line}\n`));
const dir = await mkdtemp(join(tmpdir(), 'slipway-demo-'));
let lab: FleetLab | null = null;
let stopping = false;

async function teardown(): Promise<void> {
  const opened = lab;
  lab = null;
  await opened?.close().catch((error: unknown) => console.error(`teardown: ${String(error)}`));
  await rm(dir, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    say(`\n${signal}: stopping the VMs, etcd and the update server…`);
    void teardown().finally(() => process.exit(130));
  });
}

async function observe(opened: FleetLab, machineIds: ReadonlyMap<string, string>, started: number): Promise<FleetView> {
  const [statuses, semaphore] = await Promise.all([Promise.all(HOSTS.map((host) => opened.status(host))), opened.semaphore()]);
  const holders = semaphore.holders.map((id) => machineIds.get(id) ?? id);
  return {
    seconds: (Date.now() - started) / 1000,
    hosts: HOSTS.map((host, i) => ({ host, status: statuses[i] ?? null, holdsLock: holders.includes(host) })),
    lock: { max: semaphore.max, holders },
  };
}

const finished = (view: FleetView): boolean =>
  view.lock.holders.length === 0 && view.hosts.every((h) => h.status?.booted.version === '1.0.1' && h.status.health === 'confirmed' && h.status.activity === 'idle');

async function main(): Promise<void> {
  say('1/5  Building the OS images: a 1.0.0 disk and a 1.0.1 release (the Debian base tree takes two minutes the first time, then comes from a cache)');
  const opened = await FleetLab.open({
    dir,
    hosts: HOSTS,
    first: '1.0.0',
    releases: [{ version: '1.0.1' }],
    maxHolders: 1,
    agentSettings: { update: { first_check: '15s', interval: '15s' } },
    timings,
  });
  lab = opened;
  say(`     etcd at ${opened.etcd.url}, update server at ${opened.server.url} (10.0.2.2 from inside the VMs); reboot lock: 1 place`);
  await opened.publish('1.0.0');
  say(`2/5  Booting ${HOSTS.join(', ')} on 1.0.0 under QEMU (software emulation: about 2 minutes)`);
  await timings.time('boot three VMs', () => opened.boot());
  const machineIds = new Map<string, string>();
  for (const host of HOSTS) machineIds.set((await opened.vm(host).exec('/bin/cat', ['/etc/machine-id'])).stdout.trim(), host);

  say('3/5  Publishing 1.0.1, signed, to the channel the hosts follow; nobody tells them: each agent checks every minute');
  await opened.publish('1.0.1');
  const started = Date.now();
  say('4/5  The rolling update, live (t = seconds since 1.0.1 was published):');
  const timeline: TimelineEvent[] = [];
  let previous: FleetView | null = null;
  let drawn = 0;
  for (;;) {
    if (Date.now() - started > LIMIT_MS) throw new Error(`the rollout did not finish within ${LIMIT_MS / 60_000} minutes`);
    const view = await observe(opened, machineIds, started);
    const events = diffFleet(previous, view);
    timeline.push(...events);
    const table = renderFleet(view);
    if (tty) {
      // Redraw in place: the events scroll above the table.
      process.stdout.write(drawn > 0 ? `\u001b[${drawn}A\u001b[0J` : '');
      for (const line of renderTimeline(events)) process.stdout.write(`${line}\n`);
      process.stdout.write(`${table.join('\n')}\n`);
      drawn = table.length;
    } else if (events.length > 0 || previous === null) {
      for (const line of renderTimeline(events)) process.stdout.write(`${line}\n`);
      process.stdout.write(`${table.join('\n')}\n`);
    }
    previous = view;
    if (finished(view)) break;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  timings.steps.push(['rollout, from publishing to the last release of the lock', (Date.now() - started) / 1000]);

  say('5/5  Done: every host runs 1.0.1, each rebooted while holding the lock alone.');
  say('Timeline:');
  console.log(renderTimeline(timeline).join('\n'));
  const history = await opened.lockHistory();
  say(lockVerdict(history.map((r) => r.semaphore.holders.length), 1));
  console.log(timings.table('Where the time went', false));
}

try {
  await main();
  await teardown();
} catch (error) {
  if (!stopping) {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    await teardown();
    process.exitCode = 1;
  }
}
