// Benchmark of fleet reboot coordination (npm run bench:fleet [-- --agents 200 --max 3 --cluster 3]):
// simulated hosts share a real etcd (one member, or a loopback cluster whose leader is killed halfway);
// each waits for a place (queue + watch, no polling), "reboots" by holding it 1-3 s, and releases. A
// second phase kills 10% of the hosts while they hold, on short leases: their places must come back
// within a lease. An independent watcher of the key counts holders. Prints violations, max holders,
// makespan against the ideal, handoff latency, etcd requests per agent by kind (counted in the client),
// and how long each killed holder's place took to come back. A breaker phase at 100 and 1,000 hosts
// (fleet-breaker-phase.ts): a release that fails every gate, the hosts that took it before the breaker
// halted it (at most threshold + max), and etcd writes per host update. The last line is one JSON object.

import { parseArgs } from 'node:util';
import { EtcdGatewayClient } from '../../agent/lock/etcd-gateway-client.ts';
import { CountingClient } from './counting-etcd-client.ts';
import { runBreakerPhase } from './fleet-breaker-phase.ts';
import { EtcdLockBackend, semaphoreKey } from '../../agent/lock/etcd-lock-backend.ts';
import { parseSemaphore } from '../../agent/lock/semaphore.ts';
import { startEtcd, startEtcdCluster } from '../../qemu/etcd-server.ts';
import type { EtcdConnection } from '../../agent/lock/etcd-connection.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '200' },
    max: { type: 'string', default: '3' },
    'min-hold': { type: 'string', default: '1' },
    'max-hold': { type: 'string', default: '3' },
    /** Hosts in the killed phase (0 skips it; --agents 0 runs it alone); a tenth of them die while holding. */
    'kill-agents': { type: 'string' },
    /** The holders' lease in the killed phase, seconds. */
    lease: { type: 'string', default: '5' },
    /** Hosts in each breaker phase (a release that fails every gate), comma-separated; empty skips it. */
    'breaker-agents': { type: 'string', default: '100,1000' },
    'breaker-failures': { type: 'string', default: '3' },
    'breaker-fraction': { type: 'string', default: '0.2' },
    /** Members of a loopback etcd cluster whose leader is killed halfway through the first phase; 0: one etcd. */
    cluster: { type: 'string', default: '0' },
  },
});
const agents = Number(values.agents);
const max = Number(values.max);
const killAgents = Number(values['kill-agents'] ?? values.agents);
const killLease = Number(values.lease);
const clusterSize = Number(values.cluster);
const holdRange = [Number(values['min-hold']) * 1000, Number(values['max-hold']) * 1000] as const;

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const client = (connection: EtcdConnection): EtcdGatewayClient => new EtcdGatewayClient({ connection, tls: null, callTimeoutMs: 60_000, now: () => Date.now() });

const single = clusterSize > 0 ? null : await startEtcd();
const cluster = clusterSize > 0 ? await startEtcdCluster(clusterSize) : null;
const connection = (single ?? cluster)?.connection() as EtcdConnection;

interface Phase {
  readonly name: string;
  readonly group: string;
  readonly agents: number;
  readonly holdTtlSeconds: number;
  readonly killShare: number;
  /** Called once half the hosts have a place. */
  readonly halfway?: () => Promise<void>;
}

async function run(phase: Phase): Promise<Record<string, unknown>> {
  const { group, holdTtlSeconds } = phase;
  const shared = new CountingClient({ connection, tls: null, callTimeoutMs: 60_000, now: () => Date.now() });
  const watcherClient = client(connection);
  const admin = client(connection);
  const stopWatching = new AbortController();
  try {
    await new EtcdLockBackend(admin, { group, holdTtlSeconds }).setMax(max);
    let violations = 0;
    let maxHolders = 0;
    let previous = new Set<string>();
    const pendingReleases: number[] = [];
    const handoffs: number[] = [];
    const killedAt = new Map<string, number>();
    const comebacks: number[] = [];
    let seen = (await watcherClient.range(semaphoreKey(group))).revision;
    const observe = (value: string): void => {
      const t = performance.now();
      const holders = new Set(parseSemaphore(value, 'watched').holders);
      if (holders.size > max) violations++;
      maxHolders = Math.max(maxHolders, holders.size);
      for (const h of previous) {
        if (holders.has(h)) continue;
        const killed = killedAt.get(h);
        if (killed !== undefined) comebacks.push(t - killed);
        else pendingReleases.push(t);
      }
      for (const h of holders) if (!previous.has(h)) {
        const released = pendingReleases.shift();
        if (released !== undefined) handoffs.push(t - released);
      }
      previous = holders;
    };
    // The watcher rides out a member going away: it watches again, from where it was, at the next endpoint.
    const watching = (async () => {
      while (!stopWatching.signal.aborted) {
        try {
          for await (const event of watcherClient.watch(semaphoreKey(group), { startRevision: String(BigInt(seen) + 1n), signal: stopWatching.signal })) {
            if (event.type !== 'put') continue;
            seen = event.kv.modRevision;
            observe(event.kv.value);
          }
        } catch {
          await sleep(50);
        }
      }
    })();

    // The killed come from the first half to arrive, so hosts still wait behind them to take their places.
    const killed = new Set<number>();
    while (killed.size < Math.round(phase.agents * phase.killShare)) killed.add(Math.floor(Math.random() * phase.agents * 0.5));
    let acquired = 0;
    let lost = 0;
    let totalHold = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: phase.agents }, async (_, i) => {
        const id = `host-${i}`;
        const backend = new EtcdLockBackend(shared, { group, holdTtlSeconds });
        const result = await backend.acquireWhenFree({ id, host: id, since: new Date().toISOString(), targetVersion: '1.0.1' });
        if (result.kind === 'full') throw new Error(`${id} did not get a place`);
        if (++acquired === Math.ceil(phase.agents / 2)) void phase.halfway?.();
        const hold = holdRange[0] + Math.random() * (holdRange[1] - holdRange[0]);
        totalHold += hold;
        await sleep(hold);
        if (killed.has(i)) killedAt.set(id, performance.now());
        else if ((await backend.release(id)) === 'not-held') lost++;
      }),
    );
    const makespan = performance.now() - started;
    const requests = shared.total();
    // Every place a killed host held came back (a waiter removed it once etcd expired its lease).
    for (let waited = 0; comebacks.length < killed.size && waited < (holdTtlSeconds + 5) * 1000; waited += 100) await sleep(100);
    stopWatching.abort();
    await watching;
    handoffs.sort((a, b) => a - b);
    comebacks.sort((a, b) => a - b);
    const result = {
      phase: phase.name,
      agents: phase.agents,
      max,
      violations,
      max_holders: maxHolders,
      makespan_ratio: Math.round((makespan / (totalHold / max)) * 100) / 100,
      handoff_p50_ms: Math.round(percentile(handoffs, 50)),
      handoff_p99_ms: Math.round(percentile(handoffs, 99)),
      etcd_requests_per_agent: Math.round((requests / phase.agents) * 10) / 10,
      ...(killed.size === 0 ? {} : { lease_s: holdTtlSeconds, killed: killed.size, came_back: comebacks.length, came_back_max_s: Math.round((comebacks.at(-1) ?? Number.NaN) / 100) / 10, lost_by_living: lost }),
    };
    console.log(
      `${phase.name}: ${phase.agents} agents, max ${max}: ${violations} violations, at most ${maxHolders} holders; makespan ${(makespan / 1000).toFixed(1)} s ` +
        `(${result.makespan_ratio}x the ideal ${(totalHold / max / 1000).toFixed(1)} s); handoff p50 ${result.handoff_p50_ms} ms, p99 ${result.handoff_p99_ms} ms ` +
        `over ${handoffs.length} handoffs; ${result.etcd_requests_per_agent} etcd requests per agent`,
    );
    console.log(`  requests per agent by kind: ${[...shared.counts].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${kind} ${(n / phase.agents).toFixed(2)}`).join(', ')}`);
    if (killed.size > 0) {
      console.log(
        `  ${killed.size} killed while holding (lease ${holdTtlSeconds} s): ${comebacks.length} places came back, after ${comebacks.map((ms) => (ms / 1000).toFixed(1)).join(' ')} s; ` +
          `${lost} living holders lost their place`,
      );
    }
    return result;
  } finally {
    stopWatching.abort();
    shared.close();
    watcherClient.close();
    admin.close();
  }
}

try {
  const results: Record<string, unknown>[] = [];
  let leaderKill: Record<string, unknown> = {};
  const killLeader = async (): Promise<void> => {
    if (cluster === null) return;
    const leader = await cluster.leader();
    const at = new Date().toISOString();
    await cluster.kill(leader);
    const next = await cluster.leader();
    leaderKill = { killed_leader: cluster.urls[leader], at, new_leader: cluster.urls[next] };
    console.log(`  ${at}: killed the leader ${cluster.urls[leader] ?? ''} (member ${leader}) halfway; the new leader is ${cluster.urls[next] ?? ''} (member ${next})`);
  };
  if (agents > 0) results.push(await run({ name: cluster === null ? 'fleet' : `fleet on ${clusterSize} members, leader killed`, group: 'bench', agents, holdTtlSeconds: 600, killShare: 0, halfway: killLeader }));
  if (killAgents > 0) results.push(await run({ name: '10% killed while holding', group: 'bench-killed', agents: killAgents, holdTtlSeconds: killLease, killShare: 0.1 }));
  const breaker = { failures: Number(values['breaker-failures']), fraction: Number(values['breaker-fraction']) };
  for (const n of (values['breaker-agents'] ?? '').split(',').filter((v) => v !== '').map(Number)) {
    results.push(await runBreakerPhase({ connection, group: `bench-breaker-${n}`, agents: n, max, breaker, spreadMs: n * 20, holdMs: [100, 300] }));
  }
  const overBound = results.filter((r) => r.phase === 'breaker' && Number(r.took_release) > Number(r.took_bound)).length;
  console.log(`run finished: ${results.reduce((sum, r) => sum + Number(r.violations ?? 0), 0)} violations; ${overBound} breaker phases over their bound`);
  console.log(JSON.stringify({ ...(cluster === null ? {} : { cluster: clusterSize, ...leaderKill }), phases: results }));
} finally {
  await single?.stop();
  await cluster?.stop();
}
