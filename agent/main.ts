#!/usr/bin/env node
// Composition root: reads the process's arguments and environment, wires adapters to ports, and
// hands control to the command line. Nothing else in the agent touches process globals.

import { runCli } from './cli/run-cli.ts';
import { createLogger } from './log.ts';
import { HOST_PATHS } from './slots/boot-disk.ts';
import { FileBlockDevice } from './slots/file-block-device.ts';
import { GptBootChooser } from './slots/gpt-boot-chooser.ts';
import { GrubenvBootChooser } from './slots/grubenv-boot-chooser.ts';

import { UsageError } from './cli/cli-error.ts';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { EtcdLockBackend } from './lock/etcd-lock-backend.ts';
import type { LockRequest } from './cli/lock-command.ts';
import { findBootDisk } from './slots/boot-disk.ts';
import type { ChooserRequest } from './cli/slots-command.ts';
import type { UpdateRequest } from './cli/update-command.ts';
import type { Clock } from '../platform/clock.ts';
import type { UpdateOutcome } from './update/run-update-once.ts';
import type { BootChooser } from './slots/boot-chooser.ts';
import dbus from 'dbus-next';
import { CmdlineDatasource } from '../cloud-config/cmdline-datasource.ts';
import { ConfigDriveDatasource } from '../cloud-config/config-drive-datasource.ts';
import { FileDatasource } from '../cloud-config/file-datasource.ts';
import { HostRoot } from '../cloud-config/host-root.ts';
import { ShadowUserAccounts } from '../cloud-config/shadow-user-accounts.ts';
import { MAX_USER_DATA_BYTES } from '../cloud-config/validate.ts';
import { DbusHostnameService } from './systemd/dbus-hostname-service.ts';
import { DbusSystemdBus } from './systemd/dbus-systemd-bus.ts';
import type { CloudConfigHost, DatasourceRequest } from './cli/cloud-config-command.ts';
import type { Datasource } from '../cloud-config/datasource.ts';
import { DEFAULT_CONFIG_DIRS, loadSettings } from './config/load-settings.ts';
import { DbusControlClient } from './daemon/dbus-control-client.ts';

// The agent, the update path and the etcd lock (got, openpgp, etcd3 with gRPC, prom-client) are
// loaded when a command needs them: evaluating them all took most of every CLI call's start, about
// 4 s of `slipway status` in a VM under TCG, and slipway-cloudinit needs none of them either.
const hostWiring = () => import('./daemon/host-wiring.ts');
const httpSource = () => import('./update/http-update-source.ts');

const VERSION = '0.1.0';

const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

function openChooser(request: ChooserRequest): BootChooser {
  const openDevice = ({ writable }: { writable: boolean }): Promise<FileBlockDevice> =>
    FileBlockDevice.open(request.disk, request.sectorSize === undefined ? { writable } : { writable, sectorSize: request.sectorSize });
  if (request.kind === 'gptprio') return new GptBootChooser(openDevice);
  if (request.grubenv === undefined) throw new UsageError('--chooser grubenv needs --grubenv PATH');
  return new GrubenvBootChooser(openDevice, request.grubenv);
}

async function runUpdate(request: UpdateRequest): Promise<UpdateOutcome> {
  const [{ findBootedSlot, osReleaseVersion, updatePath }, { runUpdateOnce }] = await Promise.all([hostWiring(), import('./update/run-update-once.ts')]);
  const disk = request.disk ?? (await findBootDisk(HOST_PATHS));
  const chooser = openChooser({ disk, kind: request.chooser, grubenv: request.grubenv, sectorSize: undefined });
  const bootedSlot = request.booted ?? (await findBootedSlot(chooser, HOST_PATHS.procCmdline));
  if (bootedSlot === null) throw new UsageError(`cannot tell which slot of ${disk} is running; pass --booted SLOT`);
  const bootedVersion =
    request.currentVersion ??
    (await osReleaseVersion(osReleasePaths).catch((error: unknown) => {
      throw new UsageError(`${(error as Error).message}; pass --current-version`);
    }));
  const deps = await updatePath({
    servers: request.servers,
    host: { channel: request.channel, arch: request.arch, board: request.board, bootedVersion },
    bootedSlot,
    keyring: request.keyring,
    chooser,
    disk,
    stateDir: request.stateDir,
    tries: request.tries,
    proxy: process.env.https_proxy ?? process.env.HTTPS_PROXY ?? null,
    clock: systemClock,
    random: Math.random,
    log: (fields, message) => logger.info(fields, message),
  });
  return runUpdateOnce(deps);
}

async function openLock(request: LockRequest): Promise<EtcdLockBackend> {
  const { openEtcdLock } = await hostWiring();
  return openEtcdLock({
    endpoints: request.endpoints,
    group: request.group,
    caFile: request.caFile ?? null,
    certFile: request.certFile ?? null,
    keyFile: request.keyFile ?? null,
    username: request.username ?? null,
    password: request.password ?? null,
    now: () => Date.now(),
  });
}

// SLIPWAY_PROC_CMDLINE lets tests and image builds point at another command line.
const hostPaths = { ...HOST_PATHS, procCmdline: process.env.SLIPWAY_PROC_CMDLINE ?? HOST_PATHS.procCmdline };

/** In the fixed order file, config-drive, command line; a dead cloud-config-url delays boot by at most a minute. */
function datasources(request: DatasourceRequest): Datasource[] {
  const sources: Datasource[] = [];
  if (request.file !== undefined) sources.push(new FileDatasource(request.file));
  if (request.configDrive) sources.push(new ConfigDriveDatasource(request.configDriveDevice === undefined ? {} : { device: request.configDriveDevice }));
  if (request.cmdline) {
    // One client for every attempt, made at the first: most boots never fetch a cloud-config-url.
    let http: Promise<{ fetchSmall(url: string, cap: number): Promise<Uint8Array> }> | null = null;
    const fetchSmall = async (url: string): Promise<Uint8Array> => {
      http ??= httpSource().then(({ DEFAULT_HTTP_SETTINGS, HttpUpdateSource }) => new HttpUpdateSource({ ...DEFAULT_HTTP_SETTINGS, retries: 0, smallRequestDeadlineMs: 15_000 }, systemClock, Math.random));
      return (await http).fetchSmall(url, MAX_USER_DATA_BYTES);
    };
    sources.push(
      new CmdlineDatasource({
        readCmdline: () => readFile(hostPaths.procCmdline, 'utf8'),
        fetch: fetchSmall,
        clock: systemClock,
        random: Math.random,
        maxWaitMs: 60_000,
        backoffBaseMs: 1_000,
        backoffMaxMs: 15_000,
        log: (fields, message) => logger.warn(fields, message),
      }),
    );
  }
  return sources;
}

/** The system bus (DBUS_SYSTEM_BUS_ADDRESS, read by dbus-next, points tests at a private one). */
function openCloudConfigHost(root: string): Promise<CloudConfigHost> {
  const bus = dbus.systemBus();
  return Promise.resolve({
    deps: { root: new HostRoot(root), accounts: new ShadowUserAccounts(root), systemd: new DbusSystemdBus(bus), hostname: new DbusHostnameService(bus) },
    close: () => bus.disconnect(),
  });
}

/** SLIPWAY_CONFIG_DIRS (colon-separated) and SLIPWAY_OS_RELEASE let tests run the agent against their own files. */
const configDirs = process.env.SLIPWAY_CONFIG_DIRS?.split(':') ?? DEFAULT_CONFIG_DIRS;
const osReleasePaths = process.env.SLIPWAY_OS_RELEASE ? [process.env.SLIPWAY_OS_RELEASE] : ['/etc/os-release', '/usr/lib/os-release'];

async function runAgent(): Promise<never> {
  const [{ composeAgent }, { AgentMetrics, metricsUrl, serveMetrics }, { exportControlService }] = await Promise.all([
    import('./daemon/compose-agent.ts'),
    import('./daemon/agent-metrics.ts'),
    import('./daemon/dbus-control-service.ts'),
  ]);
  const { settings, sources, warnings } = await loadSettings({ dirs: configDirs });
  for (const warning of warnings) logger.warn({}, warning);
  logger.info({ sources }, 'settings loaded');
  const bus = dbus.systemBus();
  const metrics = new AgentMetrics();
  const answering = Promise.withResolvers<void>();
  const core = await composeAgent({
    settings,
    bus,
    clock: systemClock,
    random: Math.random,
    hostPaths,
    osReleasePaths,
    machineId: (await readFile('/etc/machine-id', 'utf8')).trim(),
    hostname: hostname(),
    proxy: process.env.https_proxy ?? process.env.HTTPS_PROXY ?? null,
    openChooser,
    log: (fields, message) => logger.info(fields, message),
    onLockWait: (seconds) => metrics.observeLockWait(seconds),
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
  // SIGTERM stops where it is: every step is persisted, so an interrupted download resumes next start.
  process.once('SIGTERM', () => {
    logger.info({}, 'stopping on SIGTERM');
    bus.disconnect();
    process.exit(0);
  });
  return core.run();
}

const logger = createLogger({ level: process.env.SLIPWAY_LOG_LEVEL ?? 'info', tty: process.stderr.isTTY });
logger.debug({ argv: process.argv.slice(2) }, 'starting');
process.exitCode = await runCli(process.argv.slice(2), {
  version: VERSION,
  io: {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    host: hostPaths,
  },
  openChooser,
  runUpdate,
  openLock,
  machineId: async () => (await readFile('/etc/machine-id', 'utf8')).trim(),
  hostname: () => hostname(),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  now: () => systemClock.now(),
  datasources,
  openCloudConfigHost,
  openControl: () => new DbusControlClient(dbus.systemBus()),
  nowMs: () => Date.now(),
  isTty: process.stderr.isTTY,
  runAgent,
  loadSettings: () => loadSettings({ dirs: configDirs }),
  log: (fields, message) => logger.info(fields, message),
});
