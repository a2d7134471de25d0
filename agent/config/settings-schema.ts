// The keys of a config.d fragment (snake_case, by section) and the setting each one fills; reading
// one fragment into assignments with their file and line; and settings written back as a fragment.

import { InternalError } from '../../platform/internal-error.ts';
import { didYouMean } from '../../platform/did-you-mean.ts';
import { absolutePath, bool, byteRate, duration, fraction, integer, list, listen, nullable, oneOf, show, text, timeZone, unitName, url, urlList, window, word } from './setting-readers.ts';
import { formatStatusRange, probeList } from './probe-reader.ts';
import type { ConfigProblem } from './config-errors.ts';
import type { Raw, Reader } from './setting-readers.ts';
import type { Settings } from './settings.ts';

/** A leaf of Settings, dotted: "update.servers", "lock.etcd.password". */
export type SettingPath =
  | { [S in Exclude<keyof Settings, 'lock'>]: `${S}.${keyof Settings[S] & string}` }[Exclude<keyof Settings, 'lock'>]
  | `lock.${Exclude<keyof Settings['lock'], 'etcd'>}`
  | `lock.etcd.${keyof Settings['lock']['etcd']}`;

export interface Origin {
  readonly file: string;
  readonly line: number;
}

/** One setting given a value by one file; `key` is the name written there ("update.server", "SERVER"). */
export interface Assignment {
  readonly target: SettingPath;
  readonly value: unknown;
  readonly key: string;
  readonly origin: Origin;
}

type Field = { readonly kind: 'section'; readonly fields: Readonly<Record<string, Field>> } | { readonly kind: 'leaf'; readonly target: SettingPath; readonly read: Reader };

const section = (fields: Record<string, Field>): Field => ({ kind: 'section', fields });
const leaf = (target: SettingPath, read: Reader): Field => ({ kind: 'leaf', target, read });

export const REBOOT_STRATEGIES = ['etcd-lock', 'fleet-lock', 'reboot', 'best-effort', 'off'] as const;
export const CHOOSERS = ['gptprio', 'grubenv'] as const;

const one = (reader: Reader): Reader => (raw) => {
  const read = reader(raw);
  return read.ok ? { ok: true, value: [read.value] } : read;
};

const FRAGMENT: Readonly<Record<string, Field>> = {
  update: section({
    server: leaf('update.servers', one(url)),
    servers: leaf('update.servers', list(url)),
    channel: leaf('update.channel', word),
    arch: leaf('update.arch', word),
    board: leaf('update.board', word),
    keyring: leaf('update.keyring', absolutePath),
    state_dir: leaf('update.stateDir', absolutePath),
    checks: leaf('update.checks', bool),
    first_check: leaf('update.firstCheckSeconds', duration(0, '0s')),
    interval: leaf('update.intervalSeconds', duration(10, '10s')),
    tries: leaf('update.tries', integer(1, 10)),
    min_rate: leaf('update.minRateBytesPerSecond', byteRate),
    rate_window: leaf('update.rateWindowSeconds', duration(1, '1s')),
    max_clock_skew: leaf('update.maxClockSkewSeconds', duration(60, '1m')),
  }),
  slots: section({
    disk: leaf('slots.disk', nullable(absolutePath)),
    chooser: leaf('slots.chooser', oneOf(CHOOSERS)),
    grubenv: leaf('slots.grubenv', nullable(absolutePath)),
  }),
  reboot: section({
    strategy: leaf('reboot.strategy', oneOf(REBOOT_STRATEGIES)),
    time_zone: leaf('reboot.timeZone', timeZone),
    windows: leaf('reboot.windows', list(window)),
    inhibitor_wait: leaf('reboot.inhibitorWaitSeconds', duration(0, '0s')),
    before: leaf('reboot.before', list(unitName)),
    after_healthy: leaf('reboot.afterHealthy', list(unitName)),
    hook_timeout: leaf('reboot.hookTimeoutSeconds', duration(1, '1s')),
  }),
  lock: section({
    group: leaf('lock.group', text()),
    etcd: section({
      endpoints: leaf('lock.etcd.endpoints', urlList),
      ca_file: leaf('lock.etcd.caFile', nullable(absolutePath)),
      cert_file: leaf('lock.etcd.certFile', nullable(absolutePath)),
      key_file: leaf('lock.etcd.keyFile', nullable(absolutePath)),
      username: leaf('lock.etcd.username', nullable(text())),
      password: leaf('lock.etcd.password', nullable(text(undefined, { secret: true }))),
      lease: leaf('lock.etcd.leaseSeconds', duration(3, '3s')),
    }),
    fleet_lock_url: leaf('lock.fleetLockUrl', nullable(url)),
  }),
  health: section({
    timeout: leaf('health.timeoutSeconds', duration(1, '1s')),
    settle: leaf('health.settleSeconds', duration(0, '0s')),
    critical_units: leaf('health.criticalUnits', list(unitName)),
    workload_units: leaf('health.workloadUnits', list(unitName)),
    probes: leaf('health.probes', probeList),
  }),
  cloud_config: section({
    datasource_wait: leaf('cloudConfig.datasourceWaitSeconds', duration(0, '0s')),
  }),
  metrics: section({
    listen: leaf('metrics.listen', listen),
  }),
  fleet: section({
    breaker_failures: leaf('fleet.breakerFailures', integer(1, 1_000_000)),
    breaker_fraction: leaf('fleet.breakerFraction', fraction),
    outcome_ttl: leaf('fleet.outcomeTtlSeconds', duration(3600, '1h')),
    report_interval: leaf('fleet.reportIntervalSeconds', duration(10, '10s')),
  }),
};

/** The leaf at a dotted fragment key ("update.server"), for the CoreOS files that set the same things. */
export function fragmentLeaf(key: string): { readonly target: SettingPath; readonly read: Reader } {
  let fields = FRAGMENT;
  const names = key.split('.');
  for (const [index, name] of names.entries()) {
    const field = Object.hasOwn(fields, name) ? fields[name] : undefined;
    if (field?.kind === 'leaf' && index === names.length - 1) return field;
    if (field?.kind !== 'section') break;
    fields = field.fields;
  }
  throw new InternalError(`no fragment key ${key}`);
}

/** Every value of one fragment as assignments, or the problems with them. */
export function readFragment(root: Raw, file: string): { assignments: Assignment[]; problems: ConfigProblem[] } {
  const assignments: Assignment[] = [];
  const problems: ConfigProblem[] = [];
  const walk = (raw: Raw, fields: Readonly<Record<string, Field>>, path: string): void => {
    if (raw.kind === 'scalar' && raw.value === null && path !== '') return; // "reboot:" with everything below commented out
    if (raw.kind !== 'map') {
      problems.push({ file, line: raw.line, key: path === '' ? null : path, message: `${path === '' ? 'the file ' : ''}must be a mapping of keys to values, not ${show(raw)}` });
      return;
    }
    for (const entry of raw.entries) {
      const key = path === '' ? entry.key : `${path}.${entry.key}`;
      const field = Object.hasOwn(fields, entry.key) ? fields[entry.key] : undefined;
      if (field === undefined) {
        const hint = didYouMean(entry.key, Object.keys(fields));
        problems.push({ file, line: entry.line, key: null, message: `unknown key ${JSON.stringify(entry.key)}${path === '' ? '' : ` in ${path}`}${hint === null ? '' : `; did you mean "${hint}"?`}` });
      } else if (field.kind === 'section') {
        walk(entry.value, field.fields, key);
      } else {
        const read = field.read(entry.value);
        if (!read.ok) for (const issue of read.issues) problems.push({ file, line: issue.line, key: `${key}${issue.suffix}`, message: issue.message });
        else if (assignments.some((a) => a.target === field.target)) {
          const other = assignments.find((a) => a.target === field.target)?.key ?? '';
          problems.push({ file, line: entry.line, key, message: `sets the same as ${other}; use one of them` });
        } else assignments.push({ target: field.target, value: read.value, key, origin: { file, line: entry.line } });
      }
    }
  };
  walk(root, FRAGMENT, '');
  return { assignments, problems: problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)) };
}

/** Seconds as a Go duration: 5400 → "1h30m", 0.5 → "500ms". */
export function formatGoDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  let ms = Math.round(seconds * 1000);
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const count = Math.floor(ms / size);
    if (count > 0) out += `${count}${unit}`;
    ms -= count * size;
  }
  return out;
}

/** Bytes per second as a fragment writes them: 4096 → "4KiB/s", 1000 → "1000B/s". */
export function formatByteRate(bytesPerSecond: number): string {
  for (const [unit, size] of [['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytesPerSecond > 0 && bytesPerSecond % size === 0) return `${bytesPerSecond / size}${unit}/s`;
  }
  return `${bytesPerSecond}B/s`;
}

/** Settings in a fragment's words, so `slipway config show` prints what could be written in config.d. */
export function settingsAsFragment(s: Settings): Record<string, unknown> {
  const { update, slots, reboot, lock, health, cloudConfig, metrics, fleet } = s;
  return {
    update: {
      servers: update.servers,
      channel: update.channel,
      arch: update.arch,
      board: update.board,
      keyring: update.keyring,
      state_dir: update.stateDir,
      checks: update.checks,
      first_check: formatGoDuration(update.firstCheckSeconds),
      interval: formatGoDuration(update.intervalSeconds),
      tries: update.tries,
      min_rate: formatByteRate(update.minRateBytesPerSecond),
      rate_window: formatGoDuration(update.rateWindowSeconds),
      max_clock_skew: formatGoDuration(update.maxClockSkewSeconds),
    },
    slots: { disk: slots.disk, chooser: slots.chooser, grubenv: slots.grubenv },
    reboot: {
      strategy: reboot.strategy,
      time_zone: reboot.timeZone,
      windows: reboot.windows,
      inhibitor_wait: formatGoDuration(reboot.inhibitorWaitSeconds),
      before: reboot.before,
      after_healthy: reboot.afterHealthy,
      hook_timeout: formatGoDuration(reboot.hookTimeoutSeconds),
    },
    lock: {
      group: lock.group,
      etcd: {
        endpoints: lock.etcd.endpoints,
        ca_file: lock.etcd.caFile,
        cert_file: lock.etcd.certFile,
        key_file: lock.etcd.keyFile,
        username: lock.etcd.username,
        password: lock.etcd.password,
        lease: formatGoDuration(lock.etcd.leaseSeconds),
      },
      fleet_lock_url: lock.fleetLockUrl,
    },
    health: {
      timeout: formatGoDuration(health.timeoutSeconds),
      settle: formatGoDuration(health.settleSeconds),
      critical_units: health.criticalUnits,
      workload_units: health.workloadUnits,
      probes: health.probes.map((p) =>
        'http' in p
          ? { name: p.name, http: { url: p.http.url, status: formatStatusRange(p.http.status), timeout: formatGoDuration(p.http.timeoutSeconds) } }
          : { name: p.name, exec: { command: p.exec.command, timeout: formatGoDuration(p.exec.timeoutSeconds) } },
      ),
    },
    cloud_config: { datasource_wait: formatGoDuration(cloudConfig.datasourceWaitSeconds) },
    metrics: { listen: metrics.listen },
    fleet: {
      breaker_failures: fleet.breakerFailures,
      breaker_fraction: fleet.breakerFraction,
      outcome_ttl: formatGoDuration(fleet.outcomeTtlSeconds),
      report_interval: formatGoDuration(fleet.reportIntervalSeconds),
    },
  };
}
