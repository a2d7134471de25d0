// The `slipway` command line: picks the subcommand, runs it, and turns any error into a message
// with its cause chain and a documented exit code.

import { describeError, exitCodeFor, UsageError } from './cli-error.ts';
import { runCloudConfig } from './cloud-config-command.ts';
import { runLock } from './lock-command.ts';
import { runRelease } from './release-command.ts';
import { runSlots } from './slots-command.ts';
import { runUpdateCommand } from './update-command.ts';
import type { CloudConfigDeps } from './cloud-config-command.ts';
import type { LockDeps } from './lock-command.ts';
import type { ReleaseDeps } from './release-command.ts';
import type { SlotsDeps } from './slots-command.ts';
import type { UpdateDeps } from './update-command.ts';

export type CliDeps = SlotsDeps & UpdateDeps & ReleaseDeps & LockDeps & CloudConfigDeps & { readonly version: string };

export const USAGE = `usage: slipway <command> [options]
commands:
  slots       show the A/B slots and their boot flags; stage, mark-good, mark-unbootable, rollback
  update      check a release channel once and stage a newer signed release (--once)
  release     publisher side: keygen, publish a signed release into a channel directory
  lock        the fleet reboot lock in etcd: status, acquire, unlock, set-max
  cloud-config  validate user-data as coreos-cloudinit reads it
  version     print the version
Run "slipway <command> --help" for a command's options.`;

export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'slots':
        return await runSlots(rest, deps);
      case 'update':
        return await runUpdateCommand(rest, deps);
      case 'release':
        return await runRelease(rest, deps);
      case 'lock':
        return await runLock(rest, deps);
      case 'cloud-config':
        return await runCloudConfig(rest, deps);
      case 'version':
      case '--version':
        deps.io.stdout(`slipway ${deps.version}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        deps.io.stdout(`${USAGE}\n`);
        return 0;
      default:
        throw new UsageError(`unknown command "${command}"\n${USAGE}`);
    }
  } catch (error) {
    deps.io.stderr(`${describeError(asUsageError(error))}\n`);
    return exitCodeFor(asUsageError(error));
  }
}

/** node:util parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes: those are usage errors too. */
function asUsageError(error: unknown): unknown {
  if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
    return new UsageError(error.message);
  }
  return error;
}
