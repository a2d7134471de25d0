// The host's files that the agent and the CLI read, with a real host's defaults. Each can be pointed
// elsewhere by a global option of the command line: a chroot, a mounted image, or a test's own files.

import { DEFAULT_CONFIG_DIRS } from '../config/load-settings.ts';
import { HOST_PATHS } from '../slots/boot-disk.ts';
import type { HostFileOptions } from '../cli/host-options.ts';
import type { HostPaths } from '../slots/boot-disk.ts';

export interface HostFiles extends HostPaths {
  /** os-release files, the first with a VERSION_ID names the running version. */
  readonly osRelease: readonly string[];
  /** config.d directories, lowest precedence first. */
  readonly configDirs: readonly string[];
  readonly machineId: string;
}

export const HOST_FILES: HostFiles = {
  ...HOST_PATHS,
  osRelease: ['/etc/os-release', '/usr/lib/os-release'],
  configDirs: DEFAULT_CONFIG_DIRS,
  machineId: '/etc/machine-id',
};

export function hostFiles(options: HostFileOptions): HostFiles {
  return {
    ...HOST_FILES,
    ...(options.procCmdline === undefined ? {} : { procCmdline: options.procCmdline }),
    ...(options.procMountinfo === undefined ? {} : { procMountinfo: options.procMountinfo }),
    ...(options.sysfs === undefined ? {} : { sysfsRoot: options.sysfs }),
    ...(options.booted === undefined ? {} : { bootedSlot: options.booted }),
    ...(options.osRelease === undefined ? {} : { osRelease: [options.osRelease] }),
    ...(options.configDirs === undefined ? {} : { configDirs: options.configDirs }),
    ...(options.machineId === undefined ? {} : { machineId: options.machineId }),
  };
}
