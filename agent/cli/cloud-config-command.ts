// `slipway cloud-config validate FILE|-`: every problem with its line; exit 0 without errors
// (warnings allowed), 1 with any error. `slipway cloud-config apply`: reads user-data from the
// chosen datasources in a fixed order, validates it, and applies it only when it has no error.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from './cli-error.ts';
import { errorCode } from '../../platform/coded-error.ts';
import { applyCloudConfig } from '../../cloud-config/apply.ts';
import { CloudConfigError } from '../../cloud-config/cloud-config-errors.ts';
import { readFirstUserData } from '../../cloud-config/datasource.ts';
import { validateCloudConfig } from '../../cloud-config/validate.ts';
import { pendingMarkerPath, removePendingMarker, writePendingMarker } from '../../cloud-config/first-boot-marker.ts';
import { EXAMPLE_ADDRESSES, substituteAddresses } from '../../cloud-config/host-addresses.ts';
import type { HostAddresses } from '../../cloud-config/host-addresses.ts';
import type { CliIo } from './io.ts';
import type { ApplyDeps, ApplyResult } from '../../cloud-config/apply.ts';
import type { Datasource, DatasourceRequest } from '../../cloud-config/datasource.ts';

/** The host's account tools and D-Bus services for an apply under `root`; close when done. */
export interface CloudConfigHost {
  readonly deps: Omit<ApplyDeps, 'log'>;
  close(): void;
}

export interface CloudConfigDeps {
  readonly io: CliIo;
  readonly readStdin: () => Promise<string>;
  /** The sources to read, in order; async because the wait for a failing one is a setting. */
  readonly datasources: (request: DatasourceRequest) => Promise<Datasource[]>;
  readonly openCloudConfigHost: (root: string) => Promise<CloudConfigHost>;
  readonly log: (fields: Record<string, unknown>, message: string) => void;
  /** COREOS_PUBLIC_IPV4 and the like from the environment: the fallback for what a datasource does not give. */
  readonly hostAddresses: HostAddresses;
  readonly now: () => Date;
  /** The agent's state directory (update.state_dir), where a failed first boot leaves its marker. */
  readonly stateDir: () => Promise<string>;
}

/** Written under the root after a first-boot apply that failed nowhere, so later boots skip it. */
export const FIRST_BOOT_STAMP = '/var/lib/slipway/cloud-config.applied';


export const CLOUD_CONFIG_USAGE = `usage:
  slipway cloud-config validate FILE|- [--json]
  slipway cloud-config apply [--from-file FILE] [--from-configdrive [--configdrive-device DEV]]
                             [--from-cmdline] [--root DIR] [--first-boot] [--json]
validate prints "line N: error|warning: message" for every problem; exits 0 when there are no errors.
apply reads the first datasource present (file, then config-drive labelled config-2, then
cloud-config-url= on the kernel command line), and applies it only if it validates without errors.
$public_ipv4, $private_ipv4, $public_ipv6 and $private_ipv6 are replaced first, from the
config-drive's ec2/latest/meta-data.json or else COREOS_PUBLIC_IPV4 and the like (\\$ keeps one).
--first-boot skips the apply when ${FIRST_BOOT_STAMP} exists and writes it after a clean apply.`;

export async function runCloudConfig(argv: readonly string[], deps: CloudConfigDeps): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      'from-file': { type: 'string' },
      'from-configdrive': { type: 'boolean', default: false },
      'configdrive-device': { type: 'string' },
      'from-cmdline': { type: 'boolean', default: false },
      root: { type: 'string', default: '/' },
      'first-boot': { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const [action, file, ...rest] = positionals;
  if (values.help) {
    deps.io.stdout(`${CLOUD_CONFIG_USAGE}\n`);
    return 0;
  }
  if (action === 'apply' && file === undefined) {
    const request = { file: values['from-file'], configDrive: values['from-configdrive'], configDriveDevice: values['configdrive-device'], cmdline: values['from-cmdline'] };
    return apply(request, { root: values.root, firstBoot: values['first-boot'], json: values.json }, deps);
  }
  if (action !== 'validate' || file === undefined || rest.length > 0) throw new UsageError(CLOUD_CONFIG_USAGE);
  const text = file === '-' ? await deps.readStdin() : await readFile(file, 'utf8');
  // $public_ipv4 and the like are read with example addresses, as a host would read them with its own.
  const { kind, report } = validateCloudConfig(substituteAddresses(text, EXAMPLE_ADDRESSES).text);
  if (values.json) deps.io.stdout(`${JSON.stringify({ kind, valid: !report.hasErrors, problems: report.sorted() }, null, 2)}\n`);
  else deps.io.stdout(report.format());
  return report.hasErrors ? 1 : 0;
}

async function apply(request: DatasourceRequest, options: { root: string; firstBoot: boolean; json: boolean }, deps: CloudConfigDeps): Promise<number> {
  if (request.file === undefined && !request.configDrive && !request.cmdline) throw new UsageError(`cloud-config apply needs at least one of --from-file, --from-configdrive, --from-cmdline\n${CLOUD_CONFIG_USAGE}`);
  const stamp = join(options.root, FIRST_BOOT_STAMP);
  if (options.firstBoot && (await readFile(stamp).then(() => true, () => false))) {
    deps.log({ stamp }, 'cloud-config was applied at an earlier boot; nothing to do');
    return 0;
  }
  if (!options.firstBoot) {
    await applyOnce(request, options, deps);
    return 0;
  }
  // Under the root, in the agent's state directory, where `slipway status` looks for it.
  const pending = join(options.root, pendingMarkerPath(await deps.stateDir()));
  try {
    const origin = await applyOnce(request, options, deps);
    await removePendingMarker(pending);
    await mkdir(dirname(stamp), { recursive: true });
    await writeFile(stamp, `${origin ?? 'no user-data'}\n`);
    return 0;
  } catch (error) {
    // No stamp: the unit fails and the next boot tries again; the marker says what is missing meanwhile.
    await writePendingMarker(pending, { at: deps.now().toISOString(), code: errorCode(error), message: error instanceof Error ? error.message : String(error) });
    throw error;
  }
}

/** Reads, validates and applies; the origin of what was applied (null: no user-data), or a throw. */
async function applyOnce(request: DatasourceRequest, options: { root: string; firstBoot: boolean; json: boolean }, deps: CloudConfigDeps): Promise<string | null> {
  const { data: userData, failures } = await readFirstUserData(await deps.datasources(request), (fields, message) => deps.log(fields, message));
  if (userData === null && failures.length > 0) {
    const reasons = failures.map((f) => `${f.source}: ${f.error instanceof Error ? f.error.message : String(f.error)}`).join('; ');
    throw new CloudConfigError('ERR_DATASOURCE_UNAVAILABLE', `no user-data could be read (${reasons}); nothing was applied${options.firstBoot ? ', and the next boot tries again' : ''}`, { cause: failures[0]?.error });
  }
  if (userData === null && request.file !== undefined && !request.configDrive && !request.cmdline) {
    throw new CloudConfigError('ERR_DATASOURCE', `no user-data at ${request.file}`);
  }
  let result: ApplyResult | null = null;
  const substituted = userData === null ? null : substituteAddresses(userData.text, { ...deps.hostAddresses, ...userData.addresses });
  const validation = substituted === null ? null : validateCloudConfig(substituted.text);
  if (userData !== null && validation !== null) {
    const where = userData.origin;
    for (const name of substituted?.missing ?? []) {
      deps.io.stderr(`${where}: warning: $${name} has no value here (${userData.origin} gives none and COREOS_${name.toUpperCase()} is not set); it was replaced by an empty string, as coreos-cloudinit does\n`);
    }
    if (validation.report.problems.length > 0) deps.io.stderr(validation.report.format().replace(/^/gm, `${where}: `));
    if (validation.kind === 'script') throw new CloudConfigError('ERR_CLOUD_CONFIG_INVALID', `user-data from ${where} is a script (#!); slipway does not run user-data scripts, so nothing was applied`);
    if (validation.config === null && validation.kind === 'cloud-config') {
      throw new CloudConfigError('ERR_CLOUD_CONFIG_INVALID', `user-data from ${where} has errors (listed above); nothing was applied`);
    }
    if (validation.config !== null) {
      const host = await deps.openCloudConfigHost(options.root);
      try {
        result = await applyCloudConfig(validation.config, { ...host.deps, log: deps.log });
      } finally {
        host.close();
      }
    }
  }
  if (options.json) {
    deps.io.stdout(`${JSON.stringify({ origin: userData?.origin ?? null, kind: validation?.kind ?? null, problems: validation?.report.sorted() ?? [], steps: result?.steps ?? [], changed: result?.changed ?? 0, failed: result?.failed ?? 0 }, null, 2)}\n`);
  } else if (userData === null) {
    deps.io.stdout('no user-data found; nothing to apply\n');
  } else if (result !== null) {
    for (const step of result.steps) deps.io.stdout(`${step.result.padEnd(9)} ${step.step} ${step.target}${step.error === undefined ? '' : `: ${step.error}`}\n`);
    deps.io.stdout(`${result.changed} changed, ${result.failed} failed (from ${userData.origin})\n`);
  }
  if (result !== null && result.failed > 0) throw new CloudConfigError('ERR_CLOUD_CONFIG_APPLY', `${result.failed} of ${result.steps.length} cloud-config steps failed`);
  return userData?.origin ?? null;
}
