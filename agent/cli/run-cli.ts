// The `slipway` command line: picks the subcommand, runs it, and turns any error into a message
// with its cause chain and a documented exit code.

import { describeError, exitCodeFor, UsageError } from './cli-error.ts';
import { HOST_OPTIONS_USAGE, splitHostOptions } from './host-options.ts';
import type { HostFileOptions } from './host-options.ts';
import { runCloudConfig } from './cloud-config-command.ts';
import { runFleet } from './fleet-command.ts';
import { runLock } from './lock-command.ts';
import { runRelease } from './release-command.ts';
import { runSlots } from './slots-command.ts';
import { runVerify } from './verify-command.ts';
import { runUpdateCommand } from './update-command.ts';
import { runUnits } from './units-command.ts';
import { runCheck } from './check-command.ts';
import { runConfig } from './config-command.ts';
import type { ConfigDeps } from './config-command.ts';
import { runCompletion } from './completion-command.ts';
import { runPin } from './pin-command.ts';
import { runUnskip } from './unskip-command.ts';
import { runPlan } from './plan-command.ts';
import { runRollback } from './rollback-command.ts';
import { runStatus } from './status-command.ts';
import type { AgentCommandDeps } from './agent-command-kit.ts';
import type { CloudConfigDeps } from './cloud-config-command.ts';
import type { FleetDeps } from './fleet-command.ts';
import type { LockDeps } from './lock-command.ts';
import type { ReleaseDeps } from './release-command.ts';
import type { SlotsDeps } from './slots-command.ts';
import type { UpdateDeps } from './update-command.ts';
import type { UnitsDeps } from './units-command.ts';

export type CliDeps = SlotsDeps &
  UpdateDeps &
  ReleaseDeps &
  UnitsDeps &
  LockDeps &
  FleetDeps &
  CloudConfigDeps &
  ConfigDeps &
  AgentCommandDeps & {
    readonly version: string;
    readonly nowMs: () => number;
    readonly isTty: boolean;
    /** `slipway agent`: runs the daemon until the process is stopped. */
    readonly runAgent: () => Promise<never>;
  };

export const USAGE = `usage: slipway [global options] <command> [options]
commands (talking to the running agent):
  status      slots, versions, state and progress, pin, checks, next reboot window
  check       check the channel now and stage a newer release
  update      the same; --now also takes it before its rollout wave and reboots into it under the fleet lock
  plan        what the next check would do, and why, without doing it
  pin         hold the host at a version; unpin to follow the channel again
  unskip      give a skipped version (failed 3 times, or rolled back from) another chance
  rollback    boot the previous good version next (--reboot: now)
commands (working on their own):
  agent       run the agent daemon (systemd runs this as slipway.service)
  config      the agent's settings as merged from config.d and CoreOS files (show [--json])
  slots       show the A/B slots, their boot flags and root hashes; stage, mark-good, mark-unbootable, rollback
  verify      check a slot offline against its recorded dm-verity root hash (the first bad block)
  update --once  one check-download-stage pass in this process, on a disk or image file
  release     publisher side: keygen, publish a signed release into a channel directory
  lock        the fleet reboot lock in etcd: status, acquire, unlock, set-max
  units       how the health gate sees units on this boot, and its verdict on each
  fleet       the rollout across the fleet: status, halt, resume; serve the fleet view and FleetLock
  cloud-config  validate user-data as coreos-cloudinit reads it, or apply it (first boot)
  completion  print a bash completion script: source <(slipway completion bash)
  version     print the version
Run "slipway <command> --help" for a command's options.
${HOST_OPTIONS_USAGE}`;

/** Where errors go before the command's dependencies exist (a bad global option). */
export interface CliOutput {
  readonly stderr: (text: string) => void;
}

export async function runCli(argv: readonly string[], makeDeps: (options: HostFileOptions) => CliDeps, output: CliOutput): Promise<number> {
  let deps: CliDeps;
  let command: string | undefined;
  let rest: string[];
  try {
    const split = splitHostOptions(argv);
    deps = makeDeps(split.options);
    [command, ...rest] = split.rest;
  } catch (error) {
    output.stderr(`${describeError(error)}\n`);
    return exitCodeFor(error);
  }
  try {
    switch (command) {
      case 'slots':
        return await runSlots(rest, deps);
      case 'verify':
        return await runVerify(rest, deps);
      case 'update':
        return rest.includes('--once') ? await runUpdateCommand(rest, deps) : await runCheck(rest, deps, 'update');
      case 'check':
        return await runCheck(rest, deps, 'check');
      case 'status':
        return await runStatus(rest, deps);
      case 'plan':
        return await runPlan(rest, deps);
      case 'pin':
        return await runPin(rest, deps, 'pin');
      case 'unpin':
        return await runPin(rest, deps, 'unpin');
      case 'unskip':
        return await runUnskip(rest, deps);
      case 'rollback':
        return await runRollback(rest, deps);
      case 'config':
        return await runConfig(rest, deps);
      case 'completion':
        return runCompletion(rest, deps.io);
      case 'agent':
        if (rest.includes('--help') || rest.includes('-h')) {
          deps.io.stdout('usage: slipway agent\nRuns the update agent: health gate, periodic checks, reboots under the fleet lock, and the org.slipway.Agent1 D-Bus interface. Settings come from /usr/lib, /run and /etc/slipway/config.d.\n');
          return 0;
        }
        return await deps.runAgent();
      case 'release':
        return await runRelease(rest, deps);
      case 'lock':
        return await runLock(rest, deps);
      case 'fleet':
        return await runFleet(rest, deps);
      case 'cloud-config':
        return await runCloudConfig(rest, deps);
      case 'units':
        return await runUnits(rest, deps);
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
