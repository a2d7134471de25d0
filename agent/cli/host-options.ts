// The global options that point slipway at other host files than the running system's: given before
// the command (`slipway --proc-cmdline FILE slots`), for a chroot, a mounted image, or a test.

import { UsageError } from './cli-error.ts';
import { isSlotName } from '../slots/boot-chooser.ts';
import type { SlotName } from '../slots/boot-chooser.ts';

export interface HostFileOptions {
  /** Instead of /proc/cmdline: which slot booted, and from which disk. */
  readonly procCmdline?: string;
  /** Instead of /proc/self/mountinfo: the device the running /usr (or /) is mounted from. */
  readonly procMountinfo?: string;
  /** Instead of /sys: partitions and device-mapper devices under that mount. */
  readonly sysfs?: string;
  /** For a disk image this host did not boot from: the slot taken as running. */
  readonly booted?: SlotName;
  /** Instead of /etc/os-release and /usr/lib/os-release: the running version. */
  readonly osRelease?: string;
  /** Instead of /usr/lib, /run and /etc/slipway/config.d (lowest precedence first). */
  readonly configDirs?: readonly string[];
  /** Instead of /etc/machine-id: the host's id (its reboot lock holder, its place in a rollout). */
  readonly machineId?: string;
}

export const HOST_OPTIONS_USAGE = `global options (before the command), for a chroot, a mounted image or a test:
  --proc-cmdline FILE   read the kernel command line from FILE instead of /proc/cmdline
  --proc-mountinfo FILE read mounts from FILE instead of /proc/self/mountinfo (which partition /usr is on)
  --sysfs DIR           read sysfs under DIR instead of /sys
  --booted SLOT         the slot taken as running (USR-A or USR-B), for a disk image this host did not
                        boot from; refused when the running system says otherwise
  --os-release FILE     read VERSION_ID from FILE instead of /etc/os-release
  --config-dir DIR      read config.d fragments from DIR instead of /usr/lib, /run and /etc/slipway/config.d
                        (repeatable, lowest precedence first)
  --machine-id FILE     read the host's id from FILE instead of /etc/machine-id (the reboot lock's
                        holder, the host's place in a release's rollout)`;

const VALUED = {
  '--proc-cmdline': 'procCmdline',
  '--proc-mountinfo': 'procMountinfo',
  '--sysfs': 'sysfs',
  '--booted': 'booted',
  '--os-release': 'osRelease',
  '--config-dir': 'configDirs',
  '--machine-id': 'machineId',
} as const;

/** Takes the global options off the front of `argv`; the rest is the command and its arguments. */
export function splitHostOptions(argv: readonly string[]): { options: HostFileOptions; rest: string[] } {
  const options: { procCmdline?: string; procMountinfo?: string; sysfs?: string; booted?: SlotName; osRelease?: string; configDirs?: string[]; machineId?: string } = {};
  let at = 0;
  for (; at < argv.length; at++) {
    const arg = argv[at] ?? '';
    const [flag = '', inline] = arg.startsWith('--') ? splitOnce(arg) : [arg, undefined];
    if (!(flag in VALUED)) break;
    const value = inline ?? argv[++at];
    if (value === undefined || value === '') throw new UsageError(`${flag} needs a value\n${HOST_OPTIONS_USAGE}`);
    const key = VALUED[flag as keyof typeof VALUED];
    if (key === 'configDirs') options.configDirs = [...(options.configDirs ?? []), value];
    else if (key === 'booted') options.booted = parseBooted(value);
    else options[key] = value;
  }
  return { options, rest: argv.slice(at) };
}

function splitOnce(arg: string): [string, string | undefined] {
  const eq = arg.indexOf('=');
  return eq < 0 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)];
}

function parseBooted(value: string): SlotName {
  const upper = value.toUpperCase();
  if (!isSlotName(upper)) throw new UsageError(`--booted: "${value}" is not a slot; use USR-A or USR-B`);
  return upper;
}
