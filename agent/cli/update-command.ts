// `slipway update --once`: one check-download-verify-stage pass, on the real disk or an image file,
// for operators and tests. Prints {"result":"staged"|"up-to-date","version":…}.

import { parseArgs } from 'node:util';
import { UsageError } from './cli-error.ts';
import { isSlotName } from '../slots/boot-chooser.ts';
import { DEFAULT_SETTINGS } from '../config/settings.ts';
import { formatGoDuration } from '../config/settings-schema.ts';
import { parseGoDuration } from '../../platform/locksmith-window.ts';
import type { SlotName } from '../slots/boot-chooser.ts';
import type { CliIo } from './io.ts';
import type { ChooserKind } from '../slots/open-boot-chooser.ts';
import type { UpdateOutcome } from '../update/run-update-once.ts';

export interface UpdateRequest {
  readonly servers: readonly string[];
  readonly channel: string;
  readonly keyring: string;
  readonly disk: string | undefined;
  readonly stateDir: string;
  readonly currentVersion: string | undefined;
  readonly booted: SlotName | undefined;
  readonly arch: string;
  readonly board: string;
  readonly tries: number;
  readonly maxClockSkewSeconds: number;
  readonly chooser: ChooserKind;
  readonly grubenv: string | undefined;
  /** --now: take a release whose rollout has not reached this host yet. */
  readonly ignoreWave: boolean;
}

export interface UpdateDeps {
  readonly io: CliIo;
  readonly runUpdate: (request: UpdateRequest) => Promise<UpdateOutcome>;
}

export const UPDATE_USAGE = `usage:
  slipway update --once --server URL --channel C --keyring FILE [--disk PATH] [--state-dir DIR]
                 [--current-version V] [--booted SLOT] [--arch A] [--board B] [--tries N]
                 [--max-clock-skew DURATION] [--now] [--json]
--server may be repeated: mirrors are tried in order. Checks the channel once; when a newer signed release is there, writes it into the slot that is not
booted, verifies it, and makes it the next boot (--tries boot attempts, default 1). A manifest created further
ahead of this host's clock than --max-clock-skew (default 24h, as update.max_clock_skew) is refused.
A release that rolls out in waves is taken only once its rollout reaches this host (/etc/machine-id);
--now takes it at once.`;

const OPTIONS = {
  once: { type: 'boolean', default: false },
  now: { type: 'boolean', default: false },
  server: { type: 'string', multiple: true },
  channel: { type: 'string' },
  keyring: { type: 'string' },
  disk: { type: 'string' },
  'state-dir': { type: 'string', default: '/var/lib/slipway' },
  'current-version': { type: 'string' },
  booted: { type: 'string' },
  arch: { type: 'string', default: 'x86_64' },
  board: { type: 'string', default: 'generic' },
  tries: { type: 'string', default: '1' },
  'max-clock-skew': { type: 'string', default: formatGoDuration(DEFAULT_SETTINGS.update.maxClockSkewSeconds) },
  chooser: { type: 'string', default: 'gptprio' },
  grubenv: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function runUpdateCommand(argv: readonly string[], deps: UpdateDeps): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help) {
    deps.io.stdout(`${UPDATE_USAGE}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected arguments: ${positionals.join(' ')}\n${UPDATE_USAGE}`);
  // run-cli sends `update` here only with --once; without it, `update` asks the running agent.
  if (!values.server?.length) throw new UsageError(`--server is required\n${UPDATE_USAGE}`);
  const required = (name: 'channel' | 'keyring'): string => {
    const value = values[name];
    if (value === undefined) throw new UsageError(`--${name} is required\n${UPDATE_USAGE}`);
    return value;
  };
  const booted = values.booted?.toUpperCase();
  if (booted !== undefined && !isSlotName(booted)) throw new UsageError(`--booted: "${values.booted}" is not a slot; use USR-A or USR-B`);
  if (!/^\d+$/.test(values.tries)) throw new UsageError(`--tries must be a whole number, got "${values.tries}"`);
  const skewMs = goDuration(values['max-clock-skew']);
  if (skewMs === null || skewMs < 60_000) throw new UsageError(`--max-clock-skew must be a duration of at least 1m like "24h", got "${values['max-clock-skew']}"`);
  if (values.chooser !== 'gptprio' && values.chooser !== 'grubenv') throw new UsageError(`--chooser must be gptprio or grubenv`);
  const outcome = await deps.runUpdate({
    servers: values.server,
    channel: required('channel'),
    keyring: required('keyring'),
    disk: values.disk,
    stateDir: values['state-dir'],
    currentVersion: values['current-version'],
    booted,
    arch: values.arch,
    board: values.board,
    tries: Number(values.tries),
    maxClockSkewSeconds: skewMs / 1000,
    chooser: values.chooser,
    grubenv: values.grubenv,
    ignoreWave: values.now,
  });
  if (values.json) deps.io.stdout(`${JSON.stringify(outcome)}\n`);
  else if (outcome.result === 'staged') deps.io.stdout(`staged ${outcome.version} in ${outcome.slot}; it boots next\n`);
  else if (outcome.result === 'waiting') deps.io.stdout(`${outcome.reason}; --now takes it at once\n`);
  else deps.io.stdout(`up to date: ${outcome.reason}\n`);
  return 0;
}

function goDuration(text: string): number | null {
  try {
    return parseGoDuration(text);
  } catch {
    return null;
  }
}
