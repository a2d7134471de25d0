// `slipway cloud-config validate FILE|-`: every problem with its line; exit 0 without errors
// (warnings allowed), 1 with any error. `--json` for tools.

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { UsageError } from './cli-error.ts';
import { validateCloudConfig } from '../../cloud-config/validate.ts';
import type { CliIo } from './io.ts';

export interface CloudConfigDeps {
  readonly io: CliIo;
  readonly readStdin: () => Promise<string>;
}

export const CLOUD_CONFIG_USAGE = `usage:
  slipway cloud-config validate FILE|- [--json]
Prints "line N: error|warning: message" for every problem; exits 0 when there are no errors.`;

export async function runCloudConfig(argv: readonly string[], deps: CloudConfigDeps): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } }, allowPositionals: true, strict: true });
  const [action, file, ...rest] = positionals;
  if (values.help) {
    deps.io.stdout(`${CLOUD_CONFIG_USAGE}\n`);
    return 0;
  }
  if (action !== 'validate' || file === undefined || rest.length > 0) throw new UsageError(CLOUD_CONFIG_USAGE);
  const text = file === '-' ? await deps.readStdin() : await readFile(file, 'utf8');
  const { kind, report } = validateCloudConfig(text);
  if (values.json) deps.io.stdout(`${JSON.stringify({ kind, valid: !report.hasErrors, problems: report.sorted() }, null, 2)}\n`);
  else deps.io.stdout(report.format());
  return report.hasErrors ? 1 : 0;
}
