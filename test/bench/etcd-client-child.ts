// One etcd client's load and first call in a process of its own (run by etcd-client-bench.ts, bundled
// as the OS image ships code): imports the client, reads one key, and prints one JSON line with the
// CPU time and RSS after each step. Modes: node (nothing), etcd3 (gRPC), got (the JSON gateway), and
// got+etcd3 (what the agent loaded before: got for its update path, etcd3 for its lock).

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

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
