// Benchmark of fleet reboot coordination (npm run bench:fleet [-- --agents 200 --max 3]): simulated
// hosts share one real etcd; each waits for a place (queue + watch, no polling), "reboots" by holding
// it 1-3 s, and releases. An independent watcher of the key counts holders. Prints violations, max
// holders, makespan against the ideal, handoff latency from a release to the next acquire, and etcd
// requests per agent (from etcd's own metrics). The last line is one JSON object.

import { parseArgs } from 'node:util';
import { EtcdGatewayClient } from '../../agent/lock/etcd-gateway-client.ts';
import { EtcdLockBackend, semaphoreKey } from '../../agent/lock/etcd-lock-backend.ts';
import { parseSemaphore } from '../../agent/lock/semaphore.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';

const { values } = parseArgs({ options: { agents: { type: 'string', default: '200' }, max: { type: 'string', default: '3' }, 'min-hold': { type: 'string', default: '1' }, 'max-hold': { type: 'string', default: '3' } } });
const agents = Number(values.agents);
const max = Number(values.max);
const holdRange = [Number(values['min-hold']) * 1000, Number(values['max-hold']) * 1000] as const;

async function requestsHandled(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return [...text.matchAll(/^grpc_server_handled_total\{[^}]*\} (\d+(?:\.\d+)?(?:e\+\d+)?)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

const etcd = await startEtcd();
const group = 'bench';
// One client (one pool of kept-alive sockets) for every simulated host, as one etcd3 client was.
const shared = new EtcdGatewayClient({ connection: etcd.connection(), tls: null, callTimeoutMs: 60_000, now: () => Date.now() });
const watcherClient = new EtcdGatewayClient({ connection: etcd.connection(), tls: null, callTimeoutMs: 30_000, now: () => Date.now() });
const stopWatching = new AbortController();
try {
  const admin = new EtcdLockBackend(shared, { group, holdTtlSeconds: 600 });
  await admin.setMax(max);

  let violations = 0;
  let maxHolders = 0;
  let previous = new Set<string>();
  const pendingReleases: number[] = [];
  const handoffs: number[] = [];
  const from = String(BigInt((await watcherClient.range(semaphoreKey(group))).revision) + 1n);
  const observe = (value: string): void => {
    const t = performance.now();
    const holders = new Set(parseSemaphore(value, 'watched').holders);
    if (holders.size > max) violations++;
    maxHolders = Math.max(maxHolders, holders.size);
    for (const h of previous) if (!holders.has(h)) pendingReleases.push(t);
    for (const h of holders) if (!previous.has(h)) {
      const released = pendingReleases.shift();
      if (released !== undefined) handoffs.push(t - released);
    }
    previous = holders;
  };
  const watching = (async () => {
    for await (const event of watcherClient.watch(semaphoreKey(group), { startRevision: from, signal: stopWatching.signal })) if (event.type === 'put') observe(event.kv.value);
  })();

  const before = await requestsHandled(etcd.url);
  let totalHold = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: agents }, async (_, i) => {
      const id = `host-${i}`;
      const backend = new EtcdLockBackend(shared, { group, holdTtlSeconds: 600 });
      const result = await backend.acquireWhenFree({ id, host: id, since: new Date().toISOString(), targetVersion: '1.0.1' });
      if (result.kind === 'full') throw new Error(`${id} did not get a place`);
      const hold = holdRange[0] + Math.random() * (holdRange[1] - holdRange[0]);
      totalHold += hold;
      await new Promise((resolve) => setTimeout(resolve, hold));
      await backend.release(id);
    }),
  );
  const makespan = performance.now() - started;
  const requests = (await requestsHandled(etcd.url)) - before;
  stopWatching.abort();
  await watching;
  handoffs.sort((a, b) => a - b);
  const result = {
    agents,
    max,
    violations,
    max_holders: maxHolders,
    makespan_ratio: Math.round((makespan / (totalHold / max)) * 100) / 100,
    handoff_p50_ms: Math.round(percentile(handoffs, 50)),
    handoff_p99_ms: Math.round(percentile(handoffs, 99)),
    etcd_requests_per_agent: Math.round((requests / agents) * 10) / 10,
  };
  console.log(
    `${agents} agents, max ${max}: ${violations} violations, at most ${maxHolders} holders; makespan ${(makespan / 1000).toFixed(1)} s ` +
      `(${result.makespan_ratio}x the ideal ${(totalHold / max / 1000).toFixed(1)} s); handoff p50 ${result.handoff_p50_ms} ms, p99 ${result.handoff_p99_ms} ms ` +
      `over ${handoffs.length} handoffs; ${result.etcd_requests_per_agent} etcd requests per agent`,
  );
  console.log(JSON.stringify(result));
} finally {
  stopWatching.abort();
  shared.close();
  watcherClient.close();
  await etcd.stop();
}
