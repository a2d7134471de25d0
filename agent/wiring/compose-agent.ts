// Builds and runs `slipway agent` from its settings: the update path, the fleet lock per strategy,
// logind reboots and the health gate (units over D-Bus, probes, its state files), wired to AgentCore; then metrics and the control
// interface, and the checks until the process is stopped.

import { readFile } from 'node:fs/promises';
import dbus from 'dbus-next';
import { parseLocksmithWindow } from '../../platform/locksmith-window.ts';
import { AgentCore } from '../daemon/agent-core.ts';
import { BootHealth } from '../health/boot-health.ts';
import { FileHealthStore } from '../health-io/health-files.ts';
import { HostProbeRunner } from '../health-io/host-probe-runner.ts';
import { keepPlace } from '../lock/place-keeper.ts';
import { RebootHooks } from '../lock/reboot-hooks.ts';
import { coordinateReboot, releaseUntilConfirmed } from '../lock/reboot-coordinator.ts';
import { nextOpening, rebootWindows } from '../lock/reboot-window.ts';
import { loadSettings } from '../config/load-settings.ts';
import { requireSafePath } from '../config/safe-path.ts';
import { DbusSystemdBus } from '../systemd/dbus-systemd-bus.ts';
import { DbusUnitStates } from '../systemd/dbus-unit-states.ts';
import { LogindRebooter } from '../systemd/logind-rebooter.ts';
import { DEFAULT_SCHEDULE } from '../update/update-schedule.ts';
import { FileRecordStore, requireSafeState } from '../update-io/state-file.ts';
import { pendingMarkerPath, readPendingMarker } from '../../cloud-config/first-boot-marker.ts';
import { loadedAfter } from './loaded-after.ts';
import { openAgentFleetStore, openAgentLock } from './reboot-lock.ts';
import { FleetAgent } from '../fleet/fleet-agent.ts';
import { haltReason } from '../daemon/agent-fleet.ts';
import { hostState } from './host-state.ts';
import { openUpdatePath } from './update-path.ts';
import { readBootedVerity, rootVerityView, verifiedRootProbes } from './booted-verity.ts';
import type { MessageBus } from 'dbus-next';
import type { Settings } from '../config/settings.ts';
import type { RebootOptions } from '../daemon/agent-core-deps.ts';
import type { HolderRecord } from '../lock/lock-backend.ts';
import type { PlaceKeeper } from '../lock/place-keeper.ts';
import type { CoordinatorDeps } from '../lock/reboot-coordinator.ts';
import type { GateVerdict } from '../health/gate-verdict.ts';
import type { HostFiles } from './host-files.ts';
import type { ProcessHost } from './process-host.ts';

interface AgentHost {
  readonly settings: Settings;
  readonly bus: MessageBus;
  readonly process: ProcessHost;
  readonly files: HostFiles;
  readonly machineId: string;
  /** Told how long each reboot waited for the lock (and window). */
  readonly onLockWait: (seconds: number) => void;
  /** Told every view of a health gate or baseline run (the metrics). */
  readonly onGate: (verdict: GateVerdict) => void;
  /** Settles once the agent answers on D-Bus; the lock and the update path are loaded after it. */
  readonly answering: Promise<void>;
}

async function composeAgent(host: AgentHost): Promise<AgentCore> {
  const { settings } = host;
  const { clock, random } = host.process;
  const log = (fields: Record<string, unknown>, message: string): void => host.process.logger.info(fields, message);
  const path = await openUpdatePath(
    { ...settings.update, disk: settings.slots.disk, chooser: settings.slots.chooser, grubenv: settings.slots.grubenv },
    { files: host.files, clock, random, proxy: host.process.proxy, machineId: () => Promise.resolve(host.machineId), log },
  );
  const updating = loadedAfter(host.answering, () => Promise.all([path.load(), import('../update/run-update-once.ts')]));
  const windows = rebootWindows(
    settings.reboot.timeZone,
    settings.reboot.windows.map((w) => parseLocksmithWindow(w.start, w.length)),
  );
  const lock = await openAgentLock(settings, clock, host.answering);
  const hostname = host.process.hostname();
  const fleetStore = await openAgentFleetStore(settings, clock, host.answering);
  const fleet = fleetStore === null ? null : new FleetAgent({
    store: fleetStore,
    breaker: { failures: settings.fleet.breakerFailures, fraction: settings.fleet.breakerFraction },
    machineId: host.machineId,
    host: hostname,
    clock,
    reportEveryMs: settings.fleet.reportIntervalSeconds * 1000,
    log,
  });
  const holder = (targetVersion: string): HolderRecord => ({ id: host.machineId, host: hostname, since: clock.now().toISOString(), targetVersion });
  const keep = lock?.keep?.bind(lock);
  const keeper = keep === undefined ? null : (record: HolderRecord): PlaceKeeper => keepPlace({ keep, everyMs: (settings.lock.etcd.leaseSeconds * 1000) / 3, log }, record);
  const systemd = new DbusSystemdBus(host.bus);
  const hooks = new RebootHooks({
    units: { start: (name) => systemd.run('start', name), stop: (name) => systemd.run('stop', name) },
    clock,
    timeoutMs: settings.reboot.hookTimeoutSeconds * 1000,
    log,
  });
  const coordinator = (options: RebootOptions): CoordinatorDeps => ({
    strategy: settings.reboot.strategy,
    windows: options.now ? { timeZone: windows.timeZone, windows: [] } : windows,
    lock,
    keepPlace: keeper,
    rebooter: new LogindRebooter({ bus: host.bus }),
    inhibitorWaitMs: options.ignoreInhibitors ? null : settings.reboot.inhibitorWaitSeconds * 1000,
    inhibitorPollMs: 10_000,
    clock,
    random,
    backoff: { baseMs: 1_000, maxMs: 60_000 },
    log,
    ...(settings.reboot.before.length === 0 ? {} : { beforeReboot: async () => {
      const run = await hooks.run('before', settings.reboot.before);
      return run.failed === null ? null : `${run.failed.unit} ${run.failed.reason}`;
    } }),
  });
  // Loaded as soon as the agent answers, so the first check finds it ready; a failure to load it (an
  // unreadable keyring) is logged now, and each check reports it until it is fixed.
  // Not while the booted slot is unknown: the agent stays in slot-unknown and never checks.
  if (path.booted.slot.known) void updating().catch((error: unknown) => log({ err: error }, 'cannot set up the update path'));
  const { health: h } = settings;
  const bootedVerity = await readBootedVerity(settings.slots.grubenv, path.booted.slot);
  const health = new BootHealth({
    units: new DbusUnitStates(host.bus),
    probes: new HostProbeRunner(),
    clock,
    store: new FileHealthStore(settings.update.stateDir),
    settings: { timeoutMs: h.timeoutSeconds * 1000, pollMs: 2_000, settleMs: h.settleSeconds * 1000, criticalUnits: h.criticalUnits, workloadUnits: h.workloadUnits, probes: [...h.probes, ...verifiedRootProbes(bootedVerity)] },
    log,
    onVerdict: host.onGate,
  });
  await health.load();
  // The breaker before a download: a halted release is not fetched (fail-closed: an unreadable etcd fails the check).
  const admission = fleet === null ? {} : { admit: async (version: string) => {
    const halt = await fleet.admit(version);
    return halt === null ? null : haltReason(halt);
  } };
  const core = new AgentCore({
    clock,
    random,
    records: new FileRecordStore(settings.update.stateDir),
    chooser: path.chooser,
    booted: path.booted,
    // With strategy off a person reboots, so the slot is the next boot at once; otherwise it is armed
    // only by the coordinated reboot, holding the lock.
    updateOnce: async (onRecord, ignoreWave) => {
      const [deps, { runUpdateOnce }] = await updating();
      return runUpdateOnce({ ...deps, onRecord, ignoreWave, arm: settings.reboot.strategy === 'off' ? 'when-staged' : 'at-reboot', ...admission });
    },
    tries: settings.update.tries,
    plan: async () => {
      const [deps, { planUpdate }] = await updating();
      return planUpdate({ ...deps, ...admission });
    },
    rebootUnderLock: async (targetVersion, options, arming) => {
      const started = clock.now().getTime();
      const outcome = await coordinateReboot(coordinator(options), holder(targetVersion), arming);
      if (outcome.kind === 'rebooting') host.onLockWait((clock.now().getTime() - started) / 1000);
      return outcome;
    },
    releaseLock: () => releaseUntilConfirmed(coordinator({ now: false, ignoreInhibitors: false }), host.machineId),
    // After a reboot this host may hold the place it rebooted under: renewed at once, until released.
    keepPlace: () => keeper?.(holder(path.booted.version)) ?? null,
    lockView: async () => {
      if (lock?.view === undefined) return null;
      const { max, holders } = await lock.view();
      return { max, holders, heldByThisHost: holders.includes(host.machineId) };
    },
    firstBootPending: () => readPendingMarker(pendingMarkerPath(settings.update.stateDir)),
    // A failed after-hook is reported (status, journal), not a reason to keep the fleet's place.
    afterHealthy: async () => void (await hooks.run('after-healthy', settings.reboot.afterHealthy)),
    hookRuns: () => hooks.last(),
    health: async (previous) => {
      const verdict = await health.gate(path.booted.version, previous);
      return verdict.healthy === true ? { healthy: true } : { healthy: false, reason: verdict.reason ?? 'unhealthy' };
    },
    // After the agent answers on D-Bus, so its start is not slowed by the polls.
    measureBaseline: () =>
      void host.answering.then(() => health.measureBaseline(path.booted.version)).catch((error: unknown) => log({ err: error }, 'could not measure the health baseline')),
    lastGate: () => health.lastGate(),
    verity: () => rootVerityView(bootedVerity),
    schedule: { ...DEFAULT_SCHEDULE, firstCheckMs: settings.update.firstCheckSeconds * 1000, intervalMs: settings.update.intervalSeconds * 1000 },
    checks: settings.update.checks,
    strategy: settings.reboot.strategy,
    fleet,
    nextWindow: () => (windows.windows.length === 0 ? null : new Date(nextOpening(windows, clock.now().getTime())).toISOString()),
    log,
  });
  if (fleet !== null) {
    // Each host's report: on every change of where it stands, and every report interval, so a quiet host shows.
    core.onChange((status) => fleet.hostChanged(hostState(status)));
    void host.answering.then(() => fleet.run());
  }
  return core;
}

/** `slipway agent`: answers on the system bus (DBUS_SYSTEM_BUS_ADDRESS, read by dbus-next, points tests at a private one), then checks until stopped. */
export async function runAgent(process: ProcessHost, files: HostFiles): Promise<never> {
  const { logger } = process;
  const [{ AgentMetrics, metricsUrl, serveMetrics }, { exportControlService }] = await Promise.all([import('../daemon/agent-metrics.ts'), import('../daemon/dbus-control-service.ts')]);
  const { settings, sources, warnings } = await loadSettings({ dirs: files.configDirs });
  // The keyring is loaded only after the agent answers, and a missing one is reported at each check;
  // one that others could replace stops the start (THREATS.md: the agent refuses and says why).
  await requireSafePath(settings.update.keyring, 'keyring');
  await requireSafeState(settings.update.stateDir);
  for (const warning of warnings) logger.warn({}, warning);
  logger.info({ sources }, 'settings loaded');
  const bus = dbus.systemBus();
  // SIGTERM stops where it is: every step is persisted, so an interrupted download resumes next start.
  // Handled from here on, before anyone is told the agent runs: a SIGTERM that came before the
  // handler would end the process by the signal's default action, not with exit code 0.
  process.onSigterm(() => {
    logger.info({}, 'stopping on SIGTERM');
    bus.disconnect();
    process.exit(0);
  });
  const metrics = new AgentMetrics();
  const answering = Promise.withResolvers<void>();
  const core = await composeAgent({
    settings,
    bus,
    process,
    files,
    machineId: (await readFile(files.machineId, 'utf8')).trim(),
    onLockWait: (seconds) => metrics.observeLockWait(seconds),
    onGate: (verdict) => metrics.observeGate(verdict),
    answering: answering.promise,
  });
  core.onChange((status) => metrics.observe(status));
  await core.start();
  if (settings.metrics.listen !== null) {
    const server = await serveMetrics(metrics, settings.metrics.listen);
    logger.info({ url: metricsUrl(server) }, 'serving metrics');
  }
  await exportControlService(bus, core);
  answering.resolve();
  logger.info({ status: core.status() }, 'agent running');
  return core.run();
}
