// `slipway fleet status|halt|resume|serve`: the rollout across the fleet, from the fleet store and the
// reboot semaphore of the host's lock group in etcd (the same settings and flags as `slipway lock`).

import { parseArgs } from 'node:util';
import { parseGoDuration } from '../../platform/locksmith-window.ts';
import { UsageError } from './cli-error.ts';
import { fleetStatusText } from './fleet-status-text.ts';
import { lockRequest } from './lock-command.ts';
import { readOverview } from '../fleet/fleet-source.ts';
import type { FleetServeDeps } from './fleet-serve-command.ts';
import type { LoadedSettings } from '../config/load-settings.ts';
import type { FleetSource } from '../fleet/fleet-source.ts';
import type { LockRequest } from '../lock/lock-backend.ts';
import type { CliIo } from './io.ts';

export interface FleetDeps extends FleetServeDeps {
  readonly io: CliIo;
  readonly loadSettings: () => Promise<LoadedSettings>;
  readonly openFleet: (request: LockRequest) => Promise<FleetSource>;
}

export const DEFAULT_QUIET_AFTER = '30m';
export const DEFAULT_LISTEN = '127.0.0.1:9339';

export const FLEET_USAGE = `usage:
  slipway fleet status [--json] [--quiet-after DURATION]
                                   per version: hosts running it, staged, waiting for their wave,
                                   failed and why, halted or not; who holds reboot places; hosts
                                   whose last report is older than --quiet-after (default ${DEFAULT_QUIET_AFTER})
  slipway fleet halt VERSION [--reason TEXT]
                                   stop VERSION fleet-wide: no agent downloads or reboots into it
  slipway fleet resume VERSION [--reason TEXT]
                                   lift a halt (the breaker's or an operator's); failures before
                                   it no longer count towards the breaker
  slipway fleet serve [--listen ADDR] [--public] [--allow-host NAME]... [--quiet-after DURATION]
                                   the read-only fleet view (default ${DEFAULT_LISTEN}) and a FleetLock
                                   server on the same semaphores; a non-loopback ADDR needs --public
options: --etcd URL (repeatable) --group G
         --etcd-cafile F --etcd-certfile F --etcd-keyfile F --etcd-username U --etcd-password P
Each defaults to the host's own setting, as for \`slipway lock\`.`;

const OPTIONS = {
  etcd: { type: 'string', multiple: true },
  group: { type: 'string' },
  'etcd-cafile': { type: 'string' },
  'etcd-certfile': { type: 'string' },
  'etcd-keyfile': { type: 'string' },
  'etcd-username': { type: 'string' },
  'etcd-password': { type: 'string' },
  json: { type: 'boolean', default: false },
  reason: { type: 'string' },
  'quiet-after': { type: 'string' },
  listen: { type: 'string' },
  public: { type: 'boolean', default: false },
  'allow-host': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Which flags each action takes; any other is a usage error rather than silently ignored. */
const ACTION_FLAGS: Record<string, readonly string[]> = {
  status: ['json', 'quiet-after'],
  halt: ['reason'],
  resume: ['reason'],
  serve: ['listen', 'public', 'allow-host', 'quiet-after'],
};

/** A release's name as it goes into etcd's key and the breaker's records: no spaces, no control characters. */
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+_~-]{0,127}$/;

export async function runFleet(argv: readonly string[], deps: FleetDeps): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  const [action, version, ...rest] = positionals;
  if (values.help || action === undefined) {
    deps.io.stdout(`${FLEET_USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const allowed = ACTION_FLAGS[action];
  if (allowed === undefined) throw new UsageError(`unknown fleet action "${action}"\n${FLEET_USAGE}`);
  const stray = Object.entries(values)
    .filter(([k, v]) => v !== undefined && v !== false && !k.startsWith('etcd') && k !== 'group' && !allowed.includes(k))
    .map(([k]) => k);
  if (stray.length > 0) throw new UsageError(`fleet ${action} does not take ${stray.map((k) => `--${k}`).join(', ')}\n${FLEET_USAGE}`);
  const takesVersion = action === 'halt' || action === 'resume';
  if (takesVersion && version === undefined) throw new UsageError(`fleet ${action} needs a VERSION\n${FLEET_USAGE}`);
  const extra = takesVersion ? rest : [version, ...rest].filter((p) => p !== undefined);
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}\n${FLEET_USAGE}`);
  if (takesVersion && !VERSION.test(version ?? '')) throw new UsageError(`"${version ?? ''}" is not a version (letters, digits and . + _ ~ -, at most 128)`);
  const quietAfterMs = quietAfter(values['quiet-after']);
  // The server and its page are loaded only by the command that serves them.
  if (action === 'serve') return (await import('./fleet-serve-command.ts')).serveFleet({ listen: values.listen ?? DEFAULT_LISTEN, public: values.public, allowHosts: values['allow-host'] ?? [], quietAfterMs }, async () => deps.openFleet(await lockRequest(values, deps)), deps);

  const source = await deps.openFleet(await lockRequest(values, deps));
  try {
    if (action === 'status') {
      const overview = await readOverview(source, () => deps.timer.now(), quietAfterMs);
      deps.io.stdout(values.json ? `${JSON.stringify(overview, null, 2)}\n` : fleetStatusText(overview));
      return 0;
    }
    const name = version ?? '';
    const at = deps.timer.now().toISOString();
    if (action === 'halt') {
      const reason = values.reason ?? 'halted by an operator';
      const record = await source.store.setHalt({ version: name, state: 'halted', by: 'operator', reason, at });
      const ours = record.at === at && record.by === 'operator' && record.reason === reason;
      deps.io.stdout(ours ? `halted ${name}\n` : `${name} was already halted by ${record.by} at ${record.at}: ${record.reason}\n`);
      return 0;
    }
    // A resume is written only over a halt: over nothing it would forgive failures the breaker still counts.
    const current = await source.store.halt(name);
    if (current?.state !== 'halted') {
      deps.io.stdout(`${name} is not halted${current === null ? '' : ` (resumed by ${current.by} at ${current.at})`}\n`);
      return 0;
    }
    await source.store.setHalt({ version: name, state: 'resumed', by: 'operator', reason: values.reason ?? 'resumed by an operator', at });
    deps.io.stdout(`resumed ${name} (it was halted by ${current.by}: ${current.reason})\n`);
    return 0;
  } finally {
    source.close();
  }
}

function quietAfter(text: string | undefined): number {
  const given = text ?? DEFAULT_QUIET_AFTER;
  let ms: number;
  try {
    ms = parseGoDuration(given);
  } catch {
    throw new UsageError(`--quiet-after "${given}" is not a duration like 30m, 2h or 1h30m`);
  }
  if (ms < 1000) throw new UsageError(`--quiet-after must be at least 1s, not "${given}"`);
  return ms;
}
