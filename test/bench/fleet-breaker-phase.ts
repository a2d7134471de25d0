// The fleet benchmark's breaker phase: simulated agents, each with the agent's own FleetAgent on a
// shared counting client, take a release that fails its health gate on every host. Each checks the
// breaker before its download and again holding the lock before its reboot, records its outcome
// before giving the place back, and reports where it stands at every change, as the agent does.

import { EtcdLockBackend } from '../../agent/lock/etcd-lock-backend.ts';
import { EtcdFleetStore } from '../../agent/fleet/etcd-fleet-store.ts';
import { FleetAgent } from '../../agent/fleet/fleet-agent.ts';
import { CountingClient, isWrite } from './counting-etcd-client.ts';
import type { EtcdConnection } from '../../agent/lock/etcd-connection.ts';
import type { HostState } from '../../agent/fleet/fleet-agent.ts';
import type { BreakerSettings } from '../../agent/fleet/circuit-breaker.ts';

export interface BreakerPhase {
  readonly connection: EtcdConnection;
  readonly group: string;
  readonly agents: number;
  readonly max: number;
  readonly breaker: BreakerSettings;
  /** Hosts start their check spread over this long (the bench: 20 ms a host, checks arriving at one rate per host); a reboot and the gate take `holdMs` each. */
  readonly spreadMs: number;
  readonly holdMs: readonly [number, number];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const clock = { now: () => new Date(), sleep };
const VERSION = '2.0.0';

export async function runBreakerPhase(phase: BreakerPhase): Promise<Record<string, unknown>> {
  const shared = new CountingClient({ connection: phase.connection, tls: null, callTimeoutMs: 60_000, now: () => Date.now() });
  const admin = new CountingClient({ connection: phase.connection, tls: null, callTimeoutMs: 60_000, now: () => Date.now() });
  try {
    await new EtcdLockBackend(admin, { group: phase.group, holdTtlSeconds: 600 }).setMax(phase.max);
    const store = new EtcdFleetStore(shared, { group: phase.group, outcomeTtlSeconds: 3600 });
    const ends = { took: 0, refusedDownload: 0, unstaged: 0 };
    const hold = (): Promise<void> => sleep(phase.holdMs[0] + Math.random() * (phase.holdMs[1] - phase.holdMs[0]));
    const started = performance.now();
    await Promise.all(
      Array.from({ length: phase.agents }, async (_, i) => {
        const id = `host-${i}`;
        const fleet = new FleetAgent({ store: () => Promise.resolve(store), breaker: phase.breaker, machineId: id, host: id, clock, reportEveryMs: 3_600_000, log: () => undefined });
        const lock = new EtcdLockBackend(shared, { group: phase.group, holdTtlSeconds: 600 });
        const report = (state: Partial<HostState>): void => fleet.hostChanged({ version: '1.0.0', slot: 'USR-A', activity: 'idle', health: 'confirmed', staged: null, waitingForWave: null, ...state });
        await sleep(Math.random() * phase.spreadMs);
        report({ activity: 'checking' });
        if ((await fleet.admit(VERSION)) !== null) {
          ends.refusedDownload++;
          report({});
          return fleet.settled();
        }
        await hold();
        report({ activity: 'waiting-to-reboot', staged: VERSION });
        const record = { id, host: id, since: new Date().toISOString(), targetVersion: VERSION };
        if ((await lock.acquireWhenFree(record)).kind === 'full') throw new Error(`${id} did not get a place`);
        if ((await fleet.admit(VERSION)) !== null) {
          // Unstaged holding the place: given back at once, nothing recorded for this host.
          ends.unstaged++;
          report({});
          await lock.release(id);
          return fleet.settled();
        }
        ends.took++;
        report({ activity: 'rebooting', staged: VERSION });
        await hold();
        report({ version: VERSION, slot: 'USR-B', activity: 'health-gate', health: 'pending' });
        await fleet.recordOutcome({ version: VERSION, from: '1.0.0', result: 'gate-failed', reason: 'critical unit failed: app.service' });
        report({ version: VERSION, slot: 'USR-B', activity: 'rebooting', health: 'failed' });
        await hold();
        // Back on the good slot: the place is given back once it is confirmed.
        report({});
        await lock.release(id);
        return fleet.settled();
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const halt = await store.halt(VERSION);
    const writes = [...shared.counts].filter(([kind]) => isWrite(kind));
    // Each outcome is put on a lease of its own: its grant is the fleet store's, the other grants the lock queue's.
    const fleetWrites = writes.filter(([kind]) => / (host report|outcome|halt)/.test(kind)).concat(writes.filter(([kind]) => kind === 'put outcome'));
    const per = (n: number): number => Math.round((n / phase.agents) * 100) / 100;
    const total = writes.reduce((sum, [, n]) => sum + n, 0);
    const result = {
      phase: 'breaker',
      agents: phase.agents,
      max: phase.max,
      threshold: phase.breaker.failures,
      took_release: ends.took,
      took_bound: phase.breaker.failures + phase.max,
      refused_download: ends.refusedDownload,
      unstaged: ends.unstaged,
      halted_by: halt?.state === 'halted' ? halt.by : null,
      etcd_writes_per_host_update: per(total),
      fleet_writes_per_host_update: per(fleetWrites.reduce((sum, [, n]) => sum + n, 0)),
    };
    console.log(
      `breaker: ${phase.agents} agents, max ${phase.max}, a release that fails every gate, breaker at ${phase.breaker.failures} failures and ${phase.breaker.fraction * 100}%: ` +
        `${ends.took} hosts took it (bound: threshold + max = ${result.took_bound}); halted by ${result.halted_by ?? 'nobody'}; ${ends.refusedDownload} did not download it, ${ends.unstaged} unstaged it; ${seconds.toFixed(1)} s`,
    );
    console.log(`  etcd writes per host update: ${result.etcd_writes_per_host_update}, of which the fleet store's ${result.fleet_writes_per_host_update} and the lock's ${Math.round((result.etcd_writes_per_host_update - result.fleet_writes_per_host_update) * 100) / 100} (${writes.sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${kind} ${per(n)}`).join(', ')})`);
    return result;
  } finally {
    shared.close();
    admin.close();
  }
}
