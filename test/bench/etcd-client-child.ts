// One etcd client's load and first call in a process of its own (run by etcd-client-bench.ts, bundled
// as the OS image ships code): imports the client, reads one key, and prints one JSON line with the
// CPU time and RSS after each step. Modes: node (nothing), etcd3 (gRPC), got (a bare POST to etcd's
// JSON gateway), got+etcd3 (what the agent loaded before: got for its update path, etcd3 for its
// lock), gateway (slipway's own client on got: what the agent loads now for both) and node-http (the
// same POST with Node's http module alone: what got itself costs).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type * as Http from 'node:http';

const [mode, etcdUrl, etcd3Bundle] = process.argv.slice(2);
if (!mode || !etcdUrl) throw new Error('usage: etcd-client-child MODE ETCD_URL [ETCD3_BUNDLE]');
const url: string = etcdUrl;
const key = 'coreos.com/updateengine/rebootlock/semaphore';

const cpuSeconds = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};
const rssMiB = (): number => process.memoryUsage().rss / 2 ** 20;

interface Etcd3Module {
  readonly Etcd3: new (options: { hosts: string }) => { get(key: string): { string(): Promise<string | null> }; close(): void };
}

/** Loads the client; returns the one call to make with it. */
async function load(): Promise<() => Promise<unknown>> {
  switch (mode) {
    case 'node':
      return () => Promise.resolve(null);
    case 'etcd3':
    case 'got+etcd3': {
      // A bundle of etcd3 made by the benchmark, so this file still builds once etcd3 is not a dependency.
      if (!etcd3Bundle) throw new Error('etcd3 mode needs the path of the etcd3 bundle');
      if (mode === 'got+etcd3') await import('got');
      const { Etcd3 } = (await import(pathToFileURL(etcd3Bundle).href)) as Etcd3Module;
      return async () => {
        const client = new Etcd3({ hosts: url });
        try {
          return await client.get(key).string();
        } finally {
          client.close();
        }
      };
    }
    case 'got': {
      const { default: got } = await import('got');
      return () => got.post(`${url}/v3/kv/range`, { json: { key: Buffer.from(key).toString('base64') }, responseType: 'json', retry: { limit: 0 } }).json();
    }
    case 'node-http': {
      // By require(), as the bundles load node:http (images/node-http-by-require.ts).
      const { request } = createRequire(import.meta.url)('node:http') as typeof Http;
      return () =>
        new Promise((resolve, reject) => {
          const body = JSON.stringify({ key: Buffer.from(key).toString('base64') });
          const req = request(`${url}/v3/kv/range`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
          });
          req.on('error', reject);
          req.end(body);
        });
    }
    case 'gateway': {
      const { EtcdGatewayClient } = await import('../../agent/lock/etcd-gateway-client.ts');
      return async () => {
        const client = new EtcdGatewayClient({ connection: { endpoints: [url], caFile: null, certFile: null, keyFile: null, username: null, password: null }, tls: null, callTimeoutMs: 10_000, now: () => Date.now() });
        try {
          return await client.get(key);
        } finally {
          client.close();
        }
      };
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

const startCpu = cpuSeconds();
const call = await load();
const loadedCpu = cpuSeconds();
const loadedRss = rssMiB();
const callStarted = performance.now();
await call();
const callMs = performance.now() - callStarted;
const calledCpu = cpuSeconds();
// VmHWM is this address space's peak; getrusage's maxrss would include the parent's peak from fork.
const peakKiB = Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? Number.NaN);
console.log(
  JSON.stringify({ bootCpuS: startCpu, loadCpuS: loadedCpu - startCpu, callCpuS: calledCpu - loadedCpu, totalCpuS: calledCpu, callMs, loadedRssMiB: loadedRss, rssMiB: rssMiB(), peakRssMiB: peakKiB / 1024 }),
);
