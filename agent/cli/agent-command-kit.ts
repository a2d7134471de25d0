// What every command that talks to the agent shares: parsing its flags (with --help and --json),
// and a control connection that is closed however the command ends.

import { parseArgs } from 'node:util';
import type { ParseArgsOptionDescriptor } from 'node:util';
import type { ControlClient } from './control-client.ts';
import type { CliIo } from './io.ts';

export interface AgentCommandDeps {
  readonly io: CliIo;
  readonly openControl: () => ControlClient;
}

type Flags = Record<string, ParseArgsOptionDescriptor & { type: 'boolean' }>;

/** The boolean flags and positionals of `argv`, or null once --help has printed `usage`. */
export function parseCommand<F extends Flags>(argv: readonly string[], usage: string, flags: F, io: CliIo): { values: Record<keyof F | 'json', boolean>; positionals: string[] } | null {
  const options: Flags = { ...flags, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } };
  const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true });
  const flagsSet = values as Record<string, boolean | undefined>;
  if (flagsSet.help === true) {
    io.stdout(`${usage}\n`);
    return null;
  }
  return { values: flagsSet as Record<keyof F | 'json', boolean>, positionals };
}

export async function withControl<T>(deps: AgentCommandDeps, work: (control: ControlClient) => Promise<T>): Promise<T> {
  const control = deps.openControl();
  try {
    return await work(control);
  } finally {
    control.close();
  }
}
