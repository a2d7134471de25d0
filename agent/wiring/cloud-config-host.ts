// cloud-config's adapters on this host: the datasources `slipway cloud-config apply` reads, and the
// accounts, files and D-Bus services (systemd, hostnamed) it applies through.

import { readFile } from 'node:fs/promises';
import dbus from 'dbus-next';
import { CloudConfigError } from '../../cloud-config/cloud-config-errors.ts';
import { CmdlineDatasource } from '../../cloud-config/cmdline-datasource.ts';
import { ConfigDriveDatasource } from '../../cloud-config/config-drive-datasource.ts';
import { FileDatasource } from '../../cloud-config/file-datasource.ts';
import { HostRoot } from '../../cloud-config/host-root.ts';
import { ShadowUserAccounts } from '../../cloud-config/shadow-user-accounts.ts';
import { MAX_USER_DATA_BYTES } from '../../cloud-config/validate.ts';
import { DbusHostnameService } from '../systemd/dbus-hostname-service.ts';
import { DbusSystemdBus } from '../systemd/dbus-systemd-bus.ts';
import type { Datasource, DatasourceRequest } from '../../cloud-config/datasource.ts';
import type { CloudConfigHost } from '../cli/cloud-config-command.ts';
import type { HostFiles } from './host-files.ts';
import type { ProcessHost } from './process-host.ts';

/** In the fixed order file, config-drive, command line; a failing cloud-config-url is retried for at most `maxWaitMs`. */
export function datasources(request: DatasourceRequest, process: ProcessHost, files: HostFiles, maxWaitMs: number): Datasource[] {
  const sources: Datasource[] = [];
  if (request.file !== undefined) sources.push(new FileDatasource(request.file));
  if (request.configDrive) sources.push(new ConfigDriveDatasource(request.configDriveDevice === undefined ? {} : { device: request.configDriveDevice }));
  if (request.cmdline) {
    // One client for every attempt, made at the first: most boots never fetch a cloud-config-url.
    let http: Promise<{ fetchSmall(url: string, cap: number): Promise<Uint8Array> }> | null = null;
    const fetchSmall = async (url: string): Promise<Uint8Array> => {
      http ??= import('../update-io/http-update-source.ts').then(
        ({ DEFAULT_HTTP_SETTINGS, HttpUpdateSource }) => new HttpUpdateSource({ ...DEFAULT_HTTP_SETTINGS, retries: 0, smallRequestDeadlineMs: 15_000 }, process.clock, process.random),
      );
      return (await http).fetchSmall(url, MAX_USER_DATA_BYTES);
    };
    sources.push(
      new CmdlineDatasource({
        readCmdline: () => readFile(files.procCmdline, 'utf8'),
        fetch: fetchSmall,
        clock: process.clock,
        random: process.random,
        maxWaitMs,
        // coreos-cloudinit backs off to 30 s between datasource attempts.
        backoffBaseMs: 1_000,
        backoffMaxMs: 30_000,
        log: (fields, message) => process.logger.warn(fields, message),
      }),
    );
  }
  return sources;
}

const DEFAULT_SYSTEM_BUS = 'unix:path=/var/run/dbus/system_bus_socket';

/**
 * The system bus (DBUS_SYSTEM_BUS_ADDRESS, read by dbus-next, points tests at a private one),
 * connected before anything is applied: without it, an apply would fail half-way, after files were written.
 */
export async function openCloudConfigHost(root: string, systemBusAddress: string | null): Promise<CloudConfigHost> {
  const address = systemBusAddress ?? DEFAULT_SYSTEM_BUS;
  const bus = dbus.systemBus();
  let lost: unknown = null;
  // dbus-next reports a broken connection as an 'error' event; unheard, it would end the process.
  // The refusal is one line (the reason is in it), as a first-boot unit's status shows one line.
  bus.on('error', (error: unknown) => {
    lost = error;
  });
  await new Promise<void>((resolve, reject) => {
    bus.once('connect', () => resolve());
    bus.once('error', (error: unknown) => {
      bus.disconnect();
      reject(new CloudConfigError('ERR_SYSTEM_BUS_UNREACHABLE', `cannot connect to the system bus at ${address}; nothing was applied; check that dbus is running and DBUS_SYSTEM_BUS_ADDRESS`, { cause: error }));
    });
  });
  return {
    deps: { root: new HostRoot(root), accounts: new ShadowUserAccounts(root), systemd: new DbusSystemdBus(bus), hostname: new DbusHostnameService(bus) },
    close: () => {
      if (lost === null) bus.disconnect();
    },
  };
}
