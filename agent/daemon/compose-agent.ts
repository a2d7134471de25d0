// Builds `slipway agent` from its settings: the boot chooser and booted slot, the update source,
// the fleet lock per strategy, logind reboots and the health check over D-Bus, wired to AgentCore.
// main.ts hands it everything taken from the process (bus, clock, paths, ids).

import { AgentCore } from './agent-core.ts';
import { awaitHealthyBoot } from './health-gate.ts';
import { etcdLock, findBootedSlot, osReleaseVersion, updatePath } from './host-wiring.ts';
import { readEtcdTls } from '../lock/etcd-connection.ts';
import { coordinateReboot, releaseUntilConfirmed } from '../lock/reboot-coordinator.ts';
import { nextOpening, rebootWindows } from '../lock/reboot-window.ts';
import { parseLocksmithWindow } from '../../platform/locksmith-window.ts';
import { findBootDisk } from '../slots/boot-disk.ts';
import { DbusSystemdBus } from '../systemd/dbus-systemd-bus.ts';
import { LogindRebooter } from '../systemd/logind-rebooter.ts';
import { DEFAULT_SCHEDULE } from '../update/update-schedule.ts';
import { UpdateError } from '../update/update-errors.ts';
import type { MessageBus } from 'dbus-next';
import type { ChooserRequest } from '../cli/slots-command.ts';
import type { Settings } from '../config/settings.ts';
import type { CoordinatorDeps } from '../lock/reboot-coordinator.ts';
import type { RebootLock } from '../lock/lock-backend.ts';
import type { Semaphore } from '../lock/semaphore.ts';
import type { BootChooser } from '../slots/boot-chooser.ts';
import type { HostPaths } from '../slots/boot-disk.ts';
import type { Clock } from '../../platform/clock.ts';

export interface AgentHost {
  readonly settings: Settings;
  readonly bus: MessageBus;
  readonly clock: Clock;
  readonly random: () => number;
  readonly hostPaths: HostPaths;
  readonly osReleasePaths: readonly string[];
  readonly machineId: string;
  readonly hostname: string;
  readonly proxy: string | null;
  readonly openChooser: (request: ChooserRequest) => BootChooser;
  readonly log: (fields: Record<string, unknown>, message: string) => void;
  /** Told how long each reboot waited for the lock (and window). */
  readonly onLockWait: (seconds: number) => void;
  /** Settles once the agent answers on D-Bus; the lock and the update path are loaded after it. */
  readonly answering: Promise<void>;
}

type AgentLock = RebootLock & { holds: ((id: string) => Promise<boolean>) | null; view?: () => Promise<Semaphore> };

/**
 * `make()`, run once `after` settles and kept: a failure goes to the caller and the next call tries
 * again. The agent loads its lock client (etcd3 and gRPC, or got) and its update path (got, openpgp,
 * the keyring) this way, after it answers on D-Bus: systemd counts the agent started (Type=dbus) only
 * then, multi-user.target and so the health gate wait for it, and loading those modules took 3.5 s
 * of every boot of a VM under TCG.
 */
export function loadedAfter<T>(after: Promise<void>, make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | null = null;
  return () =>
    (made ??= after.then(make).catch((error: unknown) => {
      made = null;
      throw error;
    }));
}

/** The lock the agent reboots under; the etcd client's TLS files are read now, so a wrong path stops the agent at start. */
async function openLock(settings: Settings, clock: Clock, answering: Promise<void>): Promise<AgentLock | null> {
  const { strategy } = settings.reboot;
  if (strategy === 'etcd-lock' || strategy === 'best-effort') {
    const options = { ...settings.lock.etcd, group: settings.lock.group, now: () => clock.now().getTime() };
    const tls = await readEtcdTls(options);
    const backend = loadedAfter(answering, () => etcdLock(options, tls));
    // Loaded as soon as the agent answers: a trial boot releases the lock right after its health gate.
    void backend().catch(() => undefined);
    return {
      acquire: async (record) => (await backend()).acquire(record),
      acquireWhenFree: async (record) => (await backend()).acquireWhenFree(record),
      release: async (id) => (await backend()).release(id),
      holds: async (id) => (await (await backend()).status()).holders.some((h) => h.id === id),
      view: async () => (await (await backend()).status()).semaphore,
    };
  }
  const { fleetLockUrl } = settings.lock;
  if (strategy === 'fleet-lock' && fleetLockUrl !== null) {
    const client = loadedAfter(answering, async () => {
      const { FleetLockClient } = await import('../lock/fleet-lock-client.ts');
      return new FleetLockClient({ baseUrl: fleetLockUrl, group: settings.lock.group || 'default', timeoutMs: 10_000 });
    });
    return { acquire: async (record) => (await client()).acquire(record), release: async (id) => (await client()).release(id), holds: null };
  }
  return null;
}

export async function composeAgent(host: AgentHost): Promise<AgentCore> {
  const { settings, clock, log } = host;
  const disk = settings.slots.disk ?? (await findBootDisk(host.hostPaths));
  const chooser = host.openChooser({ disk, kind: settings.slots.chooser, grubenv: settings.slots.grubenv ?? undefined, sectorSize: undefined });
  const bootedSlot = await findBootedSlot(chooser, host.hostPaths.procCmdline);
  if (bootedSlot === null) throw new UpdateError('ERR_STATE_INVALID', `cannot tell which slot of ${disk} is running: the kernel command line names none and no slot is marked good`);
  const bootedVersion = await osReleaseVersion(host.osReleasePaths);
  const updating = loadedAfter(host.answering, () =>
    Promise.all([
      updatePath({
        servers: settings.update.servers,
        host: { channel: settings.update.channel, arch: settings.update.arch, board: settings.update.board, bootedVersion },
        bootedSlot,
        keyring: settings.update.keyring,
        chooser,
        disk,
        stateDir: settings.update.stateDir,
        tries: settings.update.tries,
        proxy: host.proxy,
        clock,
        random: host.random,
        log,
      }),
      import('../update/run-update-once.ts'),
    ]),
  );
  const windows = rebootWindows(
    settings.reboot.timeZone,
    settings.reboot.windows.map((w) => parseLocksmithWindow(w.start, w.length)),
  );
  const lock = await openLock(settings, clock, host.answering);
  const coordinator = (now: boolean): CoordinatorDeps => ({
    strategy: settings.reboot.strategy,
    windows: now ? { timeZone: windows.timeZone, windows: [] } : windows,
    lock,
    holds: lock?.holds ?? null,
    rebooter: new LogindRebooter({ bus: host.bus, clock, ignoreInhibitors: false, pollMs: 10_000, log }),
    clock,
    random: host.random,
    backoff: { baseMs: 1_000, maxMs: 60_000 },
    log,
  });
  // Loaded as soon as the agent answers, so the first check finds it ready; a failure to load it (an
  // unreadable keyring) is logged now, and each check reports it until it is fixed.
  void updating().catch((error: unknown) => log({ err: error }, 'cannot set up the update path'));
  const systemd = new DbusSystemdBus(host.bus);
  return new AgentCore({
    clock,
    random: host.random,
    stateDir: settings.update.stateDir,
    chooser,
    booted: { slot: bootedSlot, version: bootedVersion },
    // With strategy off a person reboots, so the slot is the next boot at once; otherwise it is armed
    // only by the coordinated reboot, holding the lock.
    updateOnce: async (onRecord) => {
      const [deps, { runUpdateOnce }] = await updating();
      return runUpdateOnce({ ...deps, onRecord, arm: settings.reboot.strategy === 'off' ? 'when-staged' : 'at-reboot' });
    },
    tries: settings.update.tries,
    plan: async () => {
      const [deps, { planUpdate }] = await updating();
      return planUpdate(deps);
    },
    rebootUnderLock: async (targetVersion, now, beforeReboot) => {
      const started = clock.now().getTime();
      const deps = coordinator(now);
      const rebooter = { reboot: async () => (await beforeReboot(), deps.rebooter.reboot()) };
      const outcome = await coordinateReboot({ ...deps, rebooter }, { id: host.machineId, host: host.hostname, since: clock.now().toISOString(), targetVersion });
      if (outcome.kind === 'rebooting') host.onLockWait((clock.now().getTime() - started) / 1000);
      return outcome;
    },
    releaseLock: () => releaseUntilConfirmed(coordinator(false), host.machineId),
    lockView: async () => {
      if (lock?.view === undefined) return null;
      const { max, holders } = await lock.view();
      return { max, holders, heldByThisHost: holders.includes(host.machineId) };
    },
    health: () => awaitHealthyBoot(systemd, clock, { timeoutMs: settings.health.timeoutSeconds * 1000, pollMs: 2_000, criticalUnits: settings.health.criticalUnits }),
    schedule: { ...DEFAULT_SCHEDULE, firstCheckMs: settings.update.firstCheckSeconds * 1000, intervalMs: settings.update.intervalSeconds * 1000 },
    checks: settings.update.checks,
    strategy: settings.reboot.strategy,
    nextWindow: () => (windows.windows.length === 0 ? null : new Date(nextOpening(windows, clock.now().getTime())).toISOString()),
    log,
  });
}
