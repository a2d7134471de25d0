// The fleet reboot lock for the agent (per reboot strategy, loaded after it answers on D-Bus) and for
// `slipway lock` (the host's settings, flags overriding), and the fleet store beside the lock (etcd-lock
// only). etcd's client is imported only from here.

import { readEtcdTls } from '../lock/etcd-connection.ts';
import { loadedAfter } from './loaded-after.ts';
import { DEFAULT_SETTINGS } from '../config/settings.ts';
import type { Clock } from '../../platform/clock.ts';
import type { Settings } from '../config/settings.ts';
import type { EtcdTls } from '../lock/etcd-connection.ts';
import type { EtcdLockBackend } from '../lock/etcd-lock-backend.ts';
import type { LockRequest, RebootLock } from '../lock/lock-backend.ts';
import type { Semaphore } from '../lock/semaphore.ts';
import type { FleetStore } from '../fleet/fleet-store.ts';

export type AgentLock = RebootLock & { view?: () => Promise<Semaphore> };

/**
 * The etcd reboot lock, a holder keeping its place for `leaseSeconds` after it stops renewing it. The
 * backend's module (and got) is imported at the first lock, not with the rest of the agent: the CLI's
 * other commands never need it.
 */
async function etcdLock(request: LockRequest, leaseSeconds: number, tls: EtcdTls | null, now: () => number): Promise<EtcdLockBackend> {
  const { openEtcdLockBackend } = await import('../lock/etcd-lock-backend.ts');
  return openEtcdLockBackend({ connection: request.connection, group: request.group, holdTtlSeconds: leaseSeconds, callTimeoutMs: 10_000, now }, tls);
}

/**
 * `slipway lock`: the etcd semaphore an operator inspects and changes. Its holds are permanent or
 * leased for the operator's --ttl (EtcdLockBackend.hold); the agent's lease length is passed only
 * because the backend's agent methods need one, and the CLI does not call them.
 */
export async function openOperatorLock(request: LockRequest, clock: Clock): Promise<EtcdLockBackend> {
  return etcdLock(request, DEFAULT_SETTINGS.lock.etcd.leaseSeconds, await readEtcdTls(request.connection), () => clock.now().getTime());
}

/** The lock the agent reboots under, or null for a strategy without one; etcd's TLS files are read now, so a wrong path stops the agent at start. */
export async function openAgentLock(settings: Settings, clock: Clock, answering: Promise<void>): Promise<AgentLock | null> {
  const { strategy } = settings.reboot;
  if (strategy === 'etcd-lock' || strategy === 'best-effort') {
    const request: LockRequest = { group: settings.lock.group, connection: settings.lock.etcd };
    const tls = await readEtcdTls(request.connection);
    const backend = loadedAfter(answering, () => etcdLock(request, settings.lock.etcd.leaseSeconds, tls, () => clock.now().getTime()));
    // Loaded as soon as the agent answers: a trial boot releases the lock right after its health gate.
    void backend().catch(() => undefined);
    return {
      acquire: async (record) => (await backend()).acquire(record),
      acquireWhenFree: async (record) => (await backend()).acquireWhenFree(record),
      release: async (id) => (await backend()).release(id),
      keep: async (record) => (await backend()).keep(record),
      view: async () => (await (await backend()).status()).semaphore,
    };
  }
  const { fleetLockUrl } = settings.lock;
  if (strategy === 'fleet-lock' && fleetLockUrl !== null) {
    const client = loadedAfter(answering, async () => {
      const { FleetLockClient } = await import('../lock/fleet-lock-client.ts');
      return new FleetLockClient({ baseUrl: fleetLockUrl, group: settings.lock.group || 'default', timeoutMs: 10_000 });
    });
    return { acquire: async (record) => (await client()).acquire(record), release: async (id) => (await client()).release(id) };
  }
  return null;
}

/**
 * The fleet store (outcomes, halts, host reports) beside the group's lock, on its own client, loaded
 * after the agent answers; null unless the strategy is etcd-lock: without etcd the breaker is off.
 */
export async function openAgentFleetStore(settings: Settings, clock: Clock, answering: Promise<void>): Promise<(() => Promise<FleetStore>) | null> {
  if (settings.reboot.strategy !== 'etcd-lock') return null;
  const tls = await readEtcdTls(settings.lock.etcd);
  const store = loadedAfter(answering, async () => {
    const [{ EtcdGatewayClient }, { EtcdFleetStore }] = await Promise.all([import('../lock/etcd-gateway-client.ts'), import('../fleet/etcd-fleet-store.ts')]);
    const client = new EtcdGatewayClient({ connection: settings.lock.etcd, tls, callTimeoutMs: 10_000, now: () => clock.now().getTime() });
    return new EtcdFleetStore(client, { group: settings.lock.group, outcomeTtlSeconds: settings.fleet.outcomeTtlSeconds });
  });
  return store;
}
