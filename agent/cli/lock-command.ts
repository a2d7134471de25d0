// `slipway lock status|acquire|unlock|set-max`: locksmithctl's jobs on the fleet reboot semaphore.

import { causeChain } from '../../platform/coded-error.ts';
import { parseGoDuration } from '../../platform/locksmith-window.ts';
import { parseArgs } from 'node:util';
import { EXIT, UsageError } from './cli-error.ts';
import { DEFAULT_ETCD_ENDPOINT } from '../lock/etcd-connection.ts';
import { DEFAULT_SETTINGS } from '../config/settings.ts';
import type { LoadedSettings } from '../config/load-settings.ts';
import type { HolderRecord, LockBackend, LockRequest, LockStatus, OperatorHold } from '../lock/lock-backend.ts';
import type { CliIo } from './io.ts';

export interface LockDeps {
  readonly io: CliIo;
  readonly openLock: (request: LockRequest) => Promise<LockBackend & { close(): void }>;
  readonly machineId: () => Promise<string>;
  readonly hostname: () => string;
  readonly now: () => Date;
  /** The host's settings: `lock.group` and `lock.etcd` are where the agent takes its lock. */
  readonly loadSettings: () => Promise<LoadedSettings>;
}

export const LOCK_USAGE = `usage:
  slipway lock status [--json]
  slipway lock acquire [ID] [--ttl DURATION]
                                   a maintenance hold: permanent (until unlocked) unless --ttl
                                   (a Go duration: 30m, 2h, 1h30m) leases it for that long;
                                   exit 0 when held, 8 when the semaphore is full
  slipway lock unlock [ID]
  slipway lock set-max N
options: --etcd URL (repeatable) --group G
         --etcd-cafile F --etcd-certfile F --etcd-keyfile F --etcd-username U --etcd-password P
Each defaults to the host's own setting (lock.etcd.*, lock.group in config.d and locksmith's
drop-ins, as \`slipway config show\` prints them), else ${DEFAULT_ETCD_ENDPOINT} and the default group.
ID defaults to /etc/machine-id.`;

const OPTIONS = {
  etcd: { type: 'string', multiple: true },
  group: { type: 'string' },
  ttl: { type: 'string' },
  'etcd-cafile': { type: 'string' },
  'etcd-certfile': { type: 'string' },
  'etcd-keyfile': { type: 'string' },
  'etcd-username': { type: 'string' },
  'etcd-password': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function runLock(argv: readonly string[], deps: LockDeps): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  const [action, argument, ...rest] = positionals;
  if (values.help || action === undefined) {
    deps.io.stdout(`${LOCK_USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}\n${LOCK_USAGE}`);
  if (values.ttl !== undefined && action !== 'acquire') throw new UsageError(`--ttl goes only with acquire\n${LOCK_USAGE}`);
  const hold = operatorHold(values.ttl);
  const backend = await deps.openLock(await lockRequest(values, deps));
  try {
    switch (action) {
      case 'status': {
        const status = await backend.status();
        if (values.json) {
          deps.io.stdout(`${JSON.stringify(status, null, 2)}\n`);
        } else {
          const lines = [`${status.key}: ${status.semaphore.holders.length} of ${status.semaphore.max} held (semaphore ${status.semaphore.semaphore})`];
          for (const h of status.holders) lines.push(`  ${h.id}: ${describeHolder(h)}`);
          deps.io.stdout(`${lines.join('\n')}\n`);
        }
        return 0;
      }
      case 'acquire': {
        const id = argument ?? (await deps.machineId());
        const result = await backend.hold({ id, host: deps.hostname(), since: deps.now().toISOString(), targetVersion: 'manual' }, hold);
        if (result.kind === 'full') {
          deps.io.stdout(`semaphore is full; held by ${result.holders.join(', ')}\n`);
          return EXIT.lockFull;
        }
        const lasting = hold.kind === 'permanent' ? 'permanently, until unlocked' : `for ${values.ttl ?? ''}`;
        deps.io.stdout(`${result.kind === 'acquired' ? 'acquired' : 'already held'} by ${id}, ${lasting}${result.reclaimed.length ? ` (reclaimed expired ${result.reclaimed.join(', ')})` : ''}\n`);
        return 0;
      }
      case 'unlock': {
        const id = argument ?? (await deps.machineId());
        deps.io.stdout(`${(await backend.release(id)) === 'released' ? 'released' : 'not held'} by ${id}\n`);
        return 0;
      }
      case 'set-max': {
        if (argument === undefined || !/^\d+$/.test(argument)) throw new UsageError(`set-max needs a whole number\n${LOCK_USAGE}`);
        const next = await backend.setMax(Number(argument));
        deps.io.stdout(`max ${next.max}, semaphore ${next.semaphore}\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown lock action "${action}"\n${LOCK_USAGE}`);
    }
  } finally {
    backend.close();
  }
}

/** --ttl as a lease of whole seconds (rounded up), or a permanent hold without it. */
function operatorHold(ttl: string | undefined): OperatorHold {
  if (ttl === undefined) return { kind: 'permanent' };
  let ms: number;
  try {
    ms = parseGoDuration(ttl);
  } catch {
    throw new UsageError(`--ttl "${ttl}" is not a duration like 30m, 2h or 1h30m`);
  }
  if (ms < 1000) throw new UsageError(`--ttl must be at least 1s, not "${ttl}"`);
  return { kind: 'ttl', ttlSeconds: Math.ceil(ms / 1000) };
}

/** One holder in `lock status`: who and since when, and how long its place lasts. */
function describeHolder(h: LockStatus['holders'][number]): string {
  if (h.record === null) return 'no record (plain locksmith holder)';
  const r: HolderRecord = h.record;
  const lasting =
    r.expires === 'never'
      ? 'permanent (operator hold, until unlocked)'
      : r.expires !== undefined
        ? `operator hold until ${r.expires}${h.alive ? '' : ', EXPIRED (reclaimable)'}`
        : `lease ${h.alive ? 'alive' : 'EXPIRED (reclaimable)'}`;
  return `${r.host}, since ${r.since}, updating to ${r.targetVersion}, ${lasting}`;
}

export type LockFlags = Partial<Record<'group' | 'etcd-cafile' | 'etcd-certfile' | 'etcd-keyfile' | 'etcd-username' | 'etcd-password', string>> & { etcd?: string[] };

/**
 * The host's lock settings with each flag given replacing its value. Settings that do not load stop
 * the command (they would name the wrong etcd), unless --etcd names it: then they are only reported.
 */
export async function lockRequest(flags: LockFlags, deps: Pick<LockDeps, 'io' | 'loadSettings'>): Promise<LockRequest> {
  const loaded = await deps.loadSettings().catch((error: unknown) => {
    if (flags.etcd === undefined) throw error;
    deps.io.stderr(`slipway: the host's settings do not load, so only the flags count: ${causeChain(error)}\n`);
    return null;
  });
  // Without the host's settings, the defaults: locksmith's endpoint and its default group.
  const { group, etcd } = (loaded?.settings ?? DEFAULT_SETTINGS).lock;
  return {
    group: flags.group ?? group,
    connection: {
      endpoints: flags.etcd ?? etcd.endpoints,
      caFile: flags['etcd-cafile'] ?? etcd.caFile,
      certFile: flags['etcd-certfile'] ?? etcd.certFile,
      keyFile: flags['etcd-keyfile'] ?? etcd.keyFile,
      username: flags['etcd-username'] ?? etcd.username,
      password: flags['etcd-password'] ?? etcd.password,
    },
  };
}
