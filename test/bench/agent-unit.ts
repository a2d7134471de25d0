// How the OS image runs the agent, read from its systemd unit (images/units/slipway.service): the
// Node flags of ExecStart and the Environment= lines. The start benchmark runs the bundle on this
// machine with exactly these, so an option measured here is the one the unit ships.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const AGENT_UNIT = join(import.meta.dirname, '..', '..', 'images', 'units', 'slipway.service');

export interface AgentCommand {
  /** Node's flags, between the node binary and slipway.mjs. */
  readonly nodeFlags: readonly string[];
  /** Environment= assignments, as written (paths are the image's). */
  readonly env: Readonly<Record<string, string>>;
}

export function parseAgentUnit(text: string): AgentCommand {
  const lines = text.split('\n').map((line) => line.trim());
  const exec = lines.find((line) => line.startsWith('ExecStart='));
  if (exec === undefined) throw new Error(`${AGENT_UNIT} has no ExecStart=`);
  const words = exec.slice('ExecStart='.length).split(/\s+/);
  const script = words.findIndex((word) => word.endsWith('/slipway.mjs'));
  if (script < 1) throw new Error(`cannot find node and slipway.mjs in ${exec}`);
  const env: Record<string, string> = {};
  for (const line of lines.filter((l) => l.startsWith('Environment='))) {
    // One assignment per line here; systemd's quoting is not needed for what the unit sets.
    const [name, ...value] = line.slice('Environment='.length).split('=');
    if (name !== undefined) env[name] = value.join('=');
  }
  return { nodeFlags: words.slice(1, script), env };
}

export async function readAgentUnit(path = AGENT_UNIT): Promise<AgentCommand> {
  return parseAgentUnit(await readFile(path, 'utf8'));
}
