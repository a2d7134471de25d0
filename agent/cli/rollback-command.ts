// `slipway rollback [--reboot]`: boot the other slot next (it must have booted successfully
// before) and skip the version rolled back from until a newer one appears.

import { UsageError } from './cli-error.ts';
import { parseCommand, withControl } from './agent-command-kit.ts';
import type { AgentCommandDeps } from './agent-command-kit.ts';

export const ROLLBACK_USAGE = `usage: slipway rollback [--reboot [--ignore-inhibitors]] [--json]
Makes the other slot, which must hold a version that booted successfully, the next boot, and skips the
running version until a newer one appears. --reboot reboots into it now, under the fleet lock, once
logind's block inhibitors are gone (for at most reboot.inhibitor_wait); --ignore-inhibitors does not wait.`;

export async function runRollback(argv: readonly string[], deps: AgentCommandDeps): Promise<number> {
  const parsed = parseCommand(argv, ROLLBACK_USAGE, { reboot: { type: 'boolean', default: false }, 'ignore-inhibitors': { type: 'boolean', default: false } }, deps.io);
  if (parsed === null) return 0;
  if (parsed.positionals.length > 0) throw new UsageError(ROLLBACK_USAGE);
  const { reboot, json } = parsed.values;
  const ignoreInhibitors = parsed.values['ignore-inhibitors'];
  if (ignoreInhibitors && !reboot) throw new UsageError(`--ignore-inhibitors goes with --reboot\n${ROLLBACK_USAGE}`);
  const status = await withControl(deps, (control) => control.rollback(reboot, ignoreInhibitors));
  const next = status.slots.find((s) => s.next);
  if (json) deps.io.stdout(`${JSON.stringify({ next: next?.name ?? null, version: next?.version ?? null, rebooting: reboot })}\n`);
  else deps.io.stdout(`next boot: ${next?.name ?? 'none'} (${next?.version ?? 'unknown version'}); ${reboot ? 'rebooting under the fleet lock' : 'reboot to use it'}\n`);
  return 0;
}
