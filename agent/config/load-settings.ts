// Builds the agent's Settings: config.d fragments (drop-in rules) and CoreOS's own files merged
// key by key over the defaults, checked as a whole, every problem reported at once, frozen.

import { ConfigError, formatProblem } from './config-errors.ts';
import { readCoreosCompat } from './coreos-compat.ts';
import { listFragments, parseFragment, readConfigFile } from './fragment-files.ts';
import { requireSafePath } from './safe-path.ts';
import { DEFAULT_SETTINGS } from './settings.ts';
import { formatGoDuration, readFragment } from './settings-schema.ts';
import type { ConfigProblem } from './config-errors.ts';
import type { Assignment, SettingPath } from './settings-schema.ts';
import type { Settings } from './settings.ts';

/** Lowest precedence first: the OS's defaults, then runtime, then the administrator's. */
export const DEFAULT_CONFIG_DIRS: readonly string[] = ['/usr/lib/slipway/config.d', '/run/slipway/config.d', '/etc/slipway/config.d'];
export const COREOS_UPDATE_CONF = '/etc/coreos/update.conf';
/** Where coreos-cloudinit put coreos.locksmith; /etc masks /run as systemd does for the same name. */
export const LOCKSMITH_DROP_INS: readonly string[] = ['/run/systemd/system/locksmithd.service.d/20-cloudinit.conf', '/etc/systemd/system/locksmithd.service.d/20-cloudinit.conf'];

export interface LoadSettingsOptions {
  readonly dirs?: readonly string[];
  /** null: do not look for one. */
  readonly updateConf?: string | null;
  readonly locksmithDropIns?: readonly string[];
}

export interface LoadedSettings {
  readonly settings: Settings;
  /** Every file read, in the order it applies. */
  readonly sources: string[];
  readonly warnings: string[];
}

/**
 * Fragments apply in lexical order of name whatever their directory. CoreOS's files rank between
 * the layers: a value they set replaces one from a fragment of the earlier directories
 * (/usr/lib, /run) and is replaced by one from a fragment of the last directory (/etc).
 */
export async function loadSettings(options: LoadSettingsOptions = {}): Promise<LoadedSettings> {
  const dirs = options.dirs ?? DEFAULT_CONFIG_DIRS;
  const lastDir = dirs.length - 1;
  const updateConf = options.updateConf === undefined ? COREOS_UPDATE_CONF : options.updateConf;
  const dropIns = options.locksmithDropIns ?? LOCKSMITH_DROP_INS;
  // Whoever can write a fragment chooses the servers and the keyring: nothing is read from a place
  // another user could change (ERR_UNSAFE_PERMISSIONS, not one problem among others).
  for (const dir of dirs) await requireSafePath(dir, 'settings directory');
  for (const file of [...dropIns, ...(updateConf === null ? [] : [updateConf])]) await requireSafePath(file, 'CoreOS settings file');
  const listing = await listFragments(dirs);
  for (const file of listing.files) await requireSafePath(file.path, 'settings fragment');
  const problems: ConfigProblem[] = [...listing.problems];
  const merged = new Map<SettingPath, Assignment & { readonly fromLastDir: boolean }>();
  const fragmentsRead: { readonly path: string; readonly lastDir: boolean }[] = [];

  for (const file of listing.files) {
    const text = await readConfigFile(file.path);
    if ('problem' in text) {
      problems.push(text.problem);
      continue;
    }
    fragmentsRead.push({ path: file.path, lastDir: file.dir === lastDir });
    const parsed = parseFragment(text.text, file.path);
    problems.push(...parsed.problems);
    if (parsed.raw === null) continue;
    const fragment = readFragment(parsed.raw, file.path);
    problems.push(...fragment.problems);
    for (const assignment of fragment.assignments) merged.set(assignment.target, { ...assignment, fromLastDir: file.dir === lastDir });
  }

  const compat = await readCoreosCompat({ updateConf, dropIns });
  problems.push(...compat.problems);
  for (const assignment of compat.assignments) {
    if (merged.get(assignment.target)?.fromLastDir !== true) merged.set(assignment.target, { ...assignment, fromLastDir: false });
  }
  const sources = fragmentsRead.map((f) => f.path);
  const firstOfLastDir = fragmentsRead.findIndex((f) => f.lastDir);
  sources.splice(firstOfLastDir < 0 ? sources.length : firstOfLastDir, 0, ...compat.files);
  const warnings = compat.warnings.map(formatProblem);

  // Relations between keys are checked only on values that passed their own checks: a dropped
  // bad value would otherwise show up again as a confusing "not set".
  if (problems.length > 0) throw new ConfigError(problems);
  const settings = structuredClone(DEFAULT_SETTINGS) as unknown as Record<string, Record<string, unknown>>;
  for (const [target, assignment] of merged) setLeaf(settings, target, assignment.value);
  const result = settings as unknown as Settings;
  for (const finding of crossCheck(result, merged)) {
    if (finding.problem !== null) problems.push(finding.problem);
    else warnings.push(finding.warning);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { settings: deepFreeze(result), sources, warnings };
}

function setLeaf(settings: Record<string, Record<string, unknown>>, target: SettingPath, value: unknown): void {
  const [first = '', ...rest] = target.split('.');
  let node = settings[first] ?? {};
  for (const name of rest.slice(0, -1)) node = node[name] as Record<string, unknown>;
  node[rest.at(-1) ?? ''] = value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

interface Needs {
  /** The key whose value needs the other, and the fragment name of both. */
  readonly primary: SettingPath;
  readonly primaryKey: string;
  readonly secondary: SettingPath;
  readonly secondaryKey: string;
  /** The primary's value when it needs a secondary that is missing; null when all is well. */
  readonly unmet: (s: Settings) => string | null;
}

const NEEDS: readonly Needs[] = [
  {
    primary: 'reboot.strategy',
    primaryKey: 'reboot.strategy',
    secondary: 'lock.etcd.endpoints',
    secondaryKey: 'lock.etcd.endpoints',
    unmet: (s) => ((s.reboot.strategy === 'etcd-lock' || s.reboot.strategy === 'best-effort') && s.lock.etcd.endpoints.length === 0 ? s.reboot.strategy : null),
  },
  { primary: 'reboot.strategy', primaryKey: 'reboot.strategy', secondary: 'lock.fleetLockUrl', secondaryKey: 'lock.fleet_lock_url', unmet: (s) => (s.reboot.strategy === 'fleet-lock' && s.lock.fleetLockUrl === null ? 'fleet-lock' : null) },
  { primary: 'slots.chooser', primaryKey: 'slots.chooser', secondary: 'slots.grubenv', secondaryKey: 'slots.grubenv', unmet: (s) => (s.slots.chooser === 'grubenv' && s.slots.grubenv === null ? 'grubenv' : null) },
  { primary: 'update.checks', primaryKey: 'update.checks', secondary: 'update.servers', secondaryKey: 'update.servers', unmet: (s) => (s.update.checks && s.update.servers.length === 0 ? 'true' : null) },
];

type Finding = { readonly problem: ConfigProblem; readonly warning?: never } | { readonly problem: null; readonly warning: string };

/**
 * Keys that need one another, reported at the file and line that set the needing value. Where
 * no file set either key the defaults alone fall short (no server, no grubenv path): a warning,
 * since an OS ships those in /usr/lib/slipway/config.d.
 */
function crossCheck(settings: Settings, merged: ReadonlyMap<SettingPath, Assignment>): Finding[] {
  const findings: Finding[] = [];
  for (const need of NEEDS) {
    const value = need.unmet(settings);
    if (value === null) continue;
    const primary = merged.get(need.primary);
    const secondary = merged.get(need.secondary);
    const state = secondary === undefined ? 'no file sets' : `is ${Array.isArray(secondary.value) ? 'empty' : 'null'} (${secondary.origin.file} line ${secondary.origin.line})`;
    if (primary !== undefined) {
      findings.push({ problem: { ...primary.origin, key: primary.key, message: `${value} needs ${need.secondaryKey}, which ${state}` } });
    } else if (secondary !== undefined) {
      findings.push({ problem: { ...secondary.origin, key: secondary.key, message: `is ${Array.isArray(secondary.value) ? 'empty' : 'null'}, but ${need.primaryKey} ${value} (the default) needs it` } });
    } else {
      findings.push({ problem: null, warning: `${need.primaryKey}: ${value} (the default) needs ${need.secondaryKey}, which no file sets` });
    }
  }
  // A settle time as long as the deadline lets no gate pass: every trial boot would be rolled back.
  const { settleSeconds, timeoutSeconds } = settings.health;
  const settle = merged.get('health.settleSeconds') ?? merged.get('health.timeoutSeconds');
  if (settleSeconds >= timeoutSeconds && settle !== undefined) {
    findings.push({ problem: { ...settle.origin, key: settle.key, message: `health.settle (${formatGoDuration(settleSeconds)}) must be shorter than health.timeout (${formatGoDuration(timeoutSeconds)}), or no health gate can pass` } });
  }
  return findings;
}
