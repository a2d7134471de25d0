// `slipway plan`: a dry run of the next check. What the agent would install and where, or why not
// (running, pinned, skipped, waiting for its rollout wave, refused), with the pin, the next reboot window and the strategy,
// and for an install what it would download (`fetch`: delta or full, bytes, requests, why).

import { UsageError } from './cli-error.ts';
import { parseCommand, withControl } from './agent-command-kit.ts';
import { formatLock } from './status-command.ts';
import type { AgentCommandDeps } from './agent-command-kit.ts';
import { formatBytes } from './progress-bar.ts';
import type { PlanDecision } from '../update/run-update-once.ts';
import type { FetchPlan } from '../update/delta-writer.ts';

function describePlan(plan: PlanDecision): string {
  if (plan.action === 'refused') return `would refuse${plan.version === null ? '' : ` ${plan.version}`}: ${plan.reason} (${plan.code})`;
  if (plan.action === 'install') return `would install ${plan.version} into ${plan.slot}: ${plan.reason}${plan.fetch === undefined ? '' : `\n${describeFetch(plan.fetch)}`}`;
  if (plan.action === 'wait') return `would wait: ${plan.reason}; then install it into ${plan.slot} (slipway update --now takes it at once)`;
  return `would do nothing: ${plan.reason}`;
}

/** What the install would download: the delta's bytes are what it lacks, not the image's size. */
export function describeFetch(fetch: FetchPlan): string {
  return `would fetch ${formatBytes(fetch.bytes)} in ${fetch.requests} request${fetch.requests === 1 ? '' : 's'} (${fetch.path}: ${fetch.reason})`;
}

export const PLAN_USAGE = `usage: slipway plan [--json]
Says what the agent would do at its next check, and why, without downloading or changing anything.
For an install it says how many bytes it would fetch: a delta update fetches only the chunks neither
slot holds (JSON: plan.fetch = {path: "delta"|"full", bytes, requests, reason}).`;

export async function runPlan(argv: readonly string[], deps: AgentCommandDeps): Promise<number> {
  const parsed = parseCommand(argv, PLAN_USAGE, {}, deps.io);
  if (parsed === null) return 0;
  if (parsed.positionals.length > 0) throw new UsageError(PLAN_USAGE);
  const [plan, status] = await withControl(deps, (control) => Promise.all([control.plan(), control.status()]));
  if (parsed.values.json) {
    deps.io.stdout(`${JSON.stringify({ plan, pinned: status.pinned, strategy: status.strategy, nextWindow: status.nextWindow, nextCheck: status.nextCheck, booted: status.booted, lock: status.lock }, null, 2)}\n`);
    return 0;
  }
  deps.io.stdout(
    `${describePlan(plan)}\nrunning ${status.booted.version} from ${status.booted.slot}${status.pinned ? `; pinned to ${status.pinned}` : ''}\n` +
      `reboot strategy ${status.strategy}; next window: ${status.nextWindow ?? 'any time'}; reboot lock: ${formatLock(status.lock)}\n`,
  );
  return 0;
}
