// `slipway unskip VERSION`: gives a version the agent skips (it failed 3 times, or the host rolled
// back from it) another chance; the next check may install it again.

import { UsageError } from './cli-error.ts';
import { parseCommand, withControl } from './agent-command-kit.ts';
import type { AgentCommandDeps } from './agent-command-kit.ts';

export const UNSKIP_USAGE = `usage:
  slipway unskip VERSION [--json]   take VERSION off the skipped list and forget the failures charged to it
A version not skipped is refused with exit code 12 (ERR_NOT_SKIPPED). Only root may unskip.`;

export async function runUnskip(argv: readonly string[], deps: AgentCommandDeps): Promise<number> {
  const parsed = parseCommand(argv, UNSKIP_USAGE, {}, deps.io);
  if (parsed === null) return 0;
  const [version, ...rest] = parsed.positionals;
  if (version === undefined || rest.length > 0) throw new UsageError(UNSKIP_USAGE);
  if (!/^\d+\.\d+\.\d+([-+][\w.-]+)?$/.test(version)) throw new UsageError(`"${version}" is not a version like 1.2.3\n${UNSKIP_USAGE}`);
  const status = await withControl(deps, (control) => control.unskip(version));
  if (parsed.values.json) deps.io.stdout(`${JSON.stringify({ unskipped: version, skipped: status.skipped })}\n`);
  else deps.io.stdout(`unskipped ${version}: the next check may install it\n`);
  return 0;
}
