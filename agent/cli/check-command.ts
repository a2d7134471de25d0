// `slipway check` and `slipway update [--now]` against the running agent: check the channel now,
// download and stage a newer release with a progress bar, and with --now reboot into it under the
// fleet lock without waiting for a window.

import { UsageError } from './cli-error.ts';
import { parseCommand, withControl } from './agent-command-kit.ts';
import { formatProgress } from './progress-bar.ts';
import type { AgentCommandDeps } from './agent-command-kit.ts';
import type { ProgressSample } from './progress-bar.ts';
import type { UpdateOutcome } from '../update/run-update-once.ts';

export const CHECK_USAGE = `usage:
  slipway check [--json]          check the channel now; stage a newer release (reboot per strategy)
  slipway update [--now [--ignore-inhibitors]] [--json]
                                  the same; --now also takes a release whose rollout wave has
                                  not reached this host, and reboots into it at once, under the fleet lock;
                                  --ignore-inhibitors reboots even while logind block inhibitors are held`;

export async function runCheck(argv: readonly string[], deps: AgentCommandDeps & { readonly nowMs: () => number; readonly isTty: boolean }, mode: 'check' | 'update'): Promise<number> {
  const parsed = parseCommand(argv, CHECK_USAGE, { now: { type: 'boolean', default: false }, 'ignore-inhibitors': { type: 'boolean', default: false } }, deps.io);
  if (parsed === null) return 0;
  const { now, json } = parsed.values;
  const ignoreInhibitors = parsed.values['ignore-inhibitors'];
  if (parsed.positionals.length > 0 || (mode === 'check' && now)) throw new UsageError(CHECK_USAGE);
  if (ignoreInhibitors && !now) throw new UsageError(`--ignore-inhibitors goes with --now: without it the reboot waits for its window and for inhibitors\n${CHECK_USAGE}`);
  const samples: ProgressSample[] = [];
  const outcome: UpdateOutcome = await withControl(deps, async (control) => {
    if (!json) {
      await control.onStatus((status) => {
        if (status.state !== 'downloading' || !status.progress || !status.target) return;
        samples.push({ atMs: deps.nowMs(), bytesDone: status.progress.bytesDone });
        const line = formatProgress(status.target.version, status.progress.totalBytes, samples);
        deps.io.stderr(deps.isTty ? `\r${line}` : `${line}\n`);
      });
    }
    return now ? control.apply(ignoreInhibitors) : control.check();
  });
  if (samples.length > 0 && deps.isTty) deps.io.stderr('\n');
  if (json) deps.io.stdout(`${JSON.stringify(outcome)}\n`);
  else if (outcome.result === 'staged') deps.io.stdout(`staged ${outcome.version} in ${outcome.slot}; ${now ? 'rebooting into it under the fleet lock' : 'it boots at the next reboot (per the reboot strategy)'}\n`);
  else if (outcome.result === 'waiting') deps.io.stdout(`${outcome.reason}; slipway update --now takes it at once\n`);
  else deps.io.stdout(`up to date: ${outcome.reason}\n`);
  return 0;
}
