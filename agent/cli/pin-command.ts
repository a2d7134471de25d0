// `slipway pin VERSION` and `slipway unpin`: hold the host at one version (an older one too: the
// operator's explicit downgrade), or go back to following the channel.

import { UsageError } from './cli-error.ts';
import { parseCommand, withControl } from './agent-command-kit.ts';
import type { AgentCommandDeps } from './agent-command-kit.ts';

export const PIN_USAGE = `usage:
  slipway pin VERSION [--json]   install only VERSION from now on (even if older than the running one)
  slipway unpin [--json]         follow the channel again`;

export async function runPin(argv: readonly string[], deps: AgentCommandDeps, mode: 'pin' | 'unpin'): Promise<number> {
  const parsed = parseCommand(argv, PIN_USAGE, {}, deps.io);
  if (parsed === null) return 0;
  const [version, ...rest] = parsed.positionals;
  if (rest.length > 0 || (mode === 'pin' ? version === undefined || !/^\d+\.\d+\.\d+([-+][\w.-]+)?$/.test(version) : version !== undefined)) {
    throw new UsageError(mode === 'pin' && version !== undefined ? `"${version}" is not a version like 1.2.3\n${PIN_USAGE}` : PIN_USAGE);
  }
  const status = await withControl(deps, (control) => (mode === 'pin' && version !== undefined ? control.pin(version) : control.unpin()));
  if (parsed.values.json) deps.io.stdout(`${JSON.stringify({ pinned: status.pinned })}\n`);
  else deps.io.stdout(status.pinned === null ? 'unpinned: following the channel\n' : `pinned to ${status.pinned}\n`);
  return 0;
}
