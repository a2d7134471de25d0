// Everything the command line may ask of the host, wired from the process: the slot engine, the
// update path, the etcd lock, cloud-config's adapters and the agent's control interface. Heavy parts
// (the agent, got, openpgp, the etcd client) are imported only by the commands that use them.

import { readFile } from 'node:fs/promises';
import dbus from 'dbus-next';
import { DbusControlClient } from '../cli/dbus-control-client.ts';
import { loadSettings } from '../config/load-settings.ts';
import { DEFAULT_SETTINGS } from '../config/settings.ts';
import { openBootChooser } from '../slots/open-boot-chooser.ts';
import { datasources, openCloudConfigHost } from './cloud-config-host.ts';
import { addressesFromEnvironment } from '../../cloud-config/host-addresses.ts';
import { openUpdatePath } from './update-path.ts';
import type { CliDeps } from '../cli/run-cli.ts';
import type { UpdateRequest } from '../cli/update-command.ts';
import type { UpdateOutcome } from '../update/run-update-once.ts';
import type { HostFiles } from './host-files.ts';
import type { ProcessHost } from './process-host.ts';

async function readMachineId(files: HostFiles): Promise<string> {
  return (await readFile(files.machineId, 'utf8')).trim();
}

export function cliDeps(process: ProcessHost, files: HostFiles): CliDeps {
  const log = (fields: Record<string, unknown>, message: string): void => process.logger.info(fields, message);
  /** `slipway update --once`: the agent's update path, opened from flags instead of settings. */
  const runUpdate = async (request: UpdateRequest): Promise<UpdateOutcome> => {
    const [path, { runUpdateOnce }] = await Promise.all([
      openUpdatePath(
        {
          ...request,
          // Flags only, as for the rest of `update --once`: the transfer floor is the agent's default.
          minRateBytesPerSecond: DEFAULT_SETTINGS.update.minRateBytesPerSecond,
          rateWindowSeconds: DEFAULT_SETTINGS.update.rateWindowSeconds,
          disk: request.disk ?? null,
          grubenv: request.grubenv ?? null,
          ...(request.booted === undefined ? {} : { bootedSlot: request.booted }),
          ...(request.currentVersion === undefined ? {} : { bootedVersion: request.currentVersion }),
        },
        { files, clock: process.clock, random: process.random, proxy: process.proxy, machineId: () => readMachineId(files), log },
      ),
      import('../update/run-update-once.ts'),
    ]);
    return runUpdateOnce({ ...(await path.load()), ignoreWave: request.ignoreWave });
  };
  return {
    version: process.version,
    io: { stdout: process.stdout, stderr: process.stderr, host: files },
    openChooser: openBootChooser,
    runUpdate,
    openLock: async (request) => (await import('./reboot-lock.ts')).openOperatorLock(request, process.clock),
    openFleet: async (request) => (await import('../fleet/etcd-fleet-source.ts')).openEtcdFleetSource(request, () => process.clock.now().getTime()),
    timer: {
      now: () => process.clock.now(),
      after: (ms, run) => {
        const timeout = setTimeout(run, ms);
        return () => clearTimeout(timeout);
      },
    },
    random: process.random,
    untilStopped: () => new Promise((resolve) => process.onSigterm(resolve)),
    machineId: () => readMachineId(files),
    hostname: process.hostname,
    readStdin: process.readStdin,
    now: () => process.clock.now(),
    nowMs: () => process.clock.now().getTime(),
    datasources: async (request) => datasources(request, process, files, request.cmdline ? (await loadSettings({ dirs: files.configDirs })).settings.cloudConfig.datasourceWaitSeconds * 1000 : 0),
    hostAddresses: addressesFromEnvironment(process.coreosEnvironment),
    stateDir: async () => (await loadSettings({ dirs: files.configDirs })).settings.update.stateDir,
    openCloudConfigHost: (root) => openCloudConfigHost(root, process.systemBusAddress),
    openControl: () => new DbusControlClient(dbus.systemBus()),
    openUnitStates: async () => {
      const [{ DbusUnitStates }, bus] = [await import('../systemd/dbus-unit-states.ts'), dbus.systemBus()];
      return { states: new DbusUnitStates(bus), close: () => bus.disconnect() };
    },
    isTty: process.isTty,
    runAgent: async () => (await import('./compose-agent.ts')).runAgent(process, files),
    loadSettings: () => loadSettings({ dirs: files.configDirs }),
    log,
  };
}
