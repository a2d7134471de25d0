// `slipway config show`: the settings the agent would run with, merged from every fragment and
// CoreOS file, in a fragment's own keys (the etcd password hidden), and the files they came from.

import { stringify } from 'yaml';
import { parseCommand } from './agent-command-kit.ts';
import { UsageError } from './cli-error.ts';
import { settingsAsFragment } from '../config/settings-schema.ts';
import type { CliIo } from './io.ts';
import type { LoadedSettings } from '../config/load-settings.ts';
import type { Settings } from '../config/settings.ts';

export interface ConfigDeps {
  readonly io: CliIo;
  /** Throws ConfigError (ERR_CONFIG_INVALID) listing every problem; the CLI maps it to exit code 2. */
  readonly loadSettings: () => Promise<LoadedSettings>;
}

export const CONFIG_USAGE = `usage: slipway config show [--json]
Prints the agent's settings, merged from /usr/lib, /run and /etc/slipway/config.d/*.yaml and
/etc/coreos/update.conf and the locksmithd drop-ins, as a fragment would set them (the etcd
password hidden), followed by the files they came from in the order they apply.
Any problem in those files is listed with its file and line, and the exit code is 2.`;

export const HIDDEN = '<hidden>';

/** The etcd password never reaches a terminal or a pasted bug report. */
function withoutSecrets(settings: Settings): Settings {
  const { password } = settings.lock.etcd;
  return { ...settings, lock: { ...settings.lock, etcd: { ...settings.lock.etcd, password: password === null ? null : HIDDEN } } };
}

export async function runConfig(argv: readonly string[], deps: ConfigDeps): Promise<number> {
  const parsed = parseCommand(argv, CONFIG_USAGE, {}, deps.io);
  if (parsed === null) return 0;
  const [action, ...rest] = parsed.positionals;
  if (action !== 'show' || rest.length > 0) throw new UsageError(CONFIG_USAGE);
  const { settings, sources, warnings } = await deps.loadSettings();
  for (const warning of warnings) deps.io.stderr(`slipway: warning: ${warning}\n`);
  const shown = settingsAsFragment(withoutSecrets(settings));
  if (parsed.values.json) {
    deps.io.stdout(`${JSON.stringify({ settings: shown, sources }, null, 2)}\n`);
    return 0;
  }
  // Sources as comments keep the output valid YAML, loadable as a fragment (but for the password).
  const from = sources.length === 0 ? '# from: no files (built-in defaults)\n' : `# from, in the order applied:\n${sources.map((s) => `#   ${s}\n`).join('')}`;
  deps.io.stdout(`${stringify(shown)}${from}`);
  return 0;
}
