// Applies a validated cloud-config to a host, in coreos-cloudinit's order: hostname, /etc/hosts,
// users and SSH keys, files, (slipway's image trust,) units, the agent's update settings. Everything that can be checked
// against the host is checked first, so a document that would fail there changes nothing.

import { posix } from 'node:path';
import { applyUnits, unitPaths } from './apply-units.ts';
import { AGENT_FRAGMENT_PATH, agentFragment } from './agent-fragment.ts';
import { CloudConfigError } from './cloud-config-errors.ts';
import { readPasswdDb, resolveOwner } from './passwd-db.ts';
import { decodeContent } from './schema.ts';
import { imageTrustFiles } from './image-trust.ts';
import type { Attempt, UnitStepName } from './apply-units.ts';
import type { Change, HostRoot, PathKind } from './host-root.ts';
import type { PasswdDb } from './passwd-db.ts';
import type { CloudConfig, UserEntry } from './schema.ts';
import type { UserAccounts } from './user-accounts.ts';
import type { HostnameService } from './hostname-service.ts';
import type { SystemdBus } from './systemd-bus.ts';

/** coreos-cloudinit gives top-level ssh_authorized_keys to this user. */
export const DEFAULT_USER = 'core';

export interface ApplyDeps {
  readonly root: HostRoot;
  readonly accounts: UserAccounts;
  readonly systemd: SystemdBus;
  readonly hostname: HostnameService;
  /** Called for each step; never given a secret (contents, password hashes). */
  readonly log: (fields: Record<string, unknown>, message: string) => void;
}

export interface Step {
  readonly step: 'hostname' | 'etc-hosts' | 'user' | 'password' | 'ssh-keys' | 'file' | 'image-trust' | 'agent-config' | UnitStepName;
  readonly target: string;
  readonly result: Change | 'failed';
  readonly error?: string;
}

export interface ApplyResult {
  readonly steps: readonly Step[];
  readonly failed: number;
  readonly changed: number;
}

/** Problems the host would meet (symlinks on a path, unknown owners, missing users), each naming what and where. */
export async function preflight(config: CloudConfig, deps: Pick<ApplyDeps, 'root'>): Promise<string[]> {
  const db = await readPasswdDb(deps.root.path);
  const planned = new Map((config.users ?? []).map((u) => [u.name, u]));
  const problems: string[] = [];
  const checkPath = async (what: string, path: string, kind: PathKind = 'file'): Promise<void> => {
    const problem = await deps.root.problemWith(path, kind);
    if (problem) problems.push(`${what}: ${problem}`);
  };
  for (const [index, file] of (config.write_files ?? []).entries()) {
    await checkPath(`write_files[${index}]`, file.path);
    if (file.owner !== undefined && resolveOwner(db, file.owner) === null && !ownerPlanned(file.owner, planned)) {
      problems.push(`write_files[${index}]: owner "${file.owner}" of ${file.path} is neither on this host nor in users`);
    }
  }
  for (const [index, unit] of (config.coreos?.units ?? []).entries()) for (const path of unitPaths(unit)) await checkPath(`coreos.units[${index}]`, path, 'replaceable');
  for (const file of imageTrustFiles(config.slipway?.image_trust ?? [])) await checkPath('slipway.image_trust', file.path);
  if ((config.ssh_authorized_keys ?? []).length > 0 && !db.users.has(DEFAULT_USER) && !planned.has(DEFAULT_USER)) {
    problems.push(`ssh_authorized_keys: they are for the user "${DEFAULT_USER}", who is neither on this host nor in users`);
  }
  for (const name of usersWithKeys(config)) {
    const home = db.users.get(name)?.home ?? planned.get(name)?.homedir;
    if (home !== undefined) await checkPath(`ssh keys of ${name}`, posix.join(home, '.ssh', 'authorized_keys'));
  }
  if (agentFragment(config) !== null) await checkPath('coreos.update/locksmith/units', AGENT_FRAGMENT_PATH);
  return problems;
}

function ownerPlanned(owner: string, planned: ReadonlyMap<string, UserEntry>): boolean {
  const [user = '', group] = owner.split(':');
  const entry = planned.get(user);
  // useradd makes a group of the user's name unless told not to.
  return entry !== undefined && (group === undefined || group === user ? entry.no_user_group !== true : true);
}

function usersWithKeys(config: CloudConfig): string[] {
  const names = (config.users ?? []).filter((u) => (u.ssh_authorized_keys ?? []).length > 0).map((u) => u.name);
  return (config.ssh_authorized_keys ?? []).length > 0 ? [...new Set([...names, DEFAULT_USER])] : names;
}

export async function applyCloudConfig(config: CloudConfig, deps: ApplyDeps): Promise<ApplyResult> {
  const problems = await preflight(config, deps);
  if (problems.length > 0) {
    throw new CloudConfigError('ERR_CLOUD_CONFIG_INVALID', `nothing was applied; the host would refuse this cloud-config:\n  ${problems.join('\n  ')}`);
  }
  const steps: Step[] = [];
  const record = (step: Step): void => {
    steps.push(step);
    const fields = { step: step.step, target: step.target, result: step.result, ...(step.error === undefined ? {} : { error: step.error }) };
    deps.log(fields, `${step.step} ${step.target}: ${step.result}`);
  };
  const attempt: Attempt<Step['step']> = async (step, target, action) => {
    try {
      const result = await action();
      record({ step, target, result });
      return result;
    } catch (error) {
      record({ step, target, result: 'failed', error: (error as Error).message });
      return 'failed';
    }
  };

  const name = config.hostname;
  if (name !== undefined) {
    await attempt('hostname', name, async () => {
      if ((await deps.hostname.staticHostname()) === name) return 'unchanged';
      await deps.hostname.setStaticHostname(name);
      return 'changed';
    });
  }
  if (config.manage_etc_hosts === 'localhost') {
    const hosts = `# Written by slipway cloud-config (manage_etc_hosts: localhost)\n127.0.0.1 localhost${name ? ` ${name}` : ''}\n::1 localhost${name ? ` ${name}` : ''}\n`;
    await attempt('etc-hosts', '/etc/hosts', () => deps.root.writeFile('/etc/hosts', Buffer.from(hosts), { mode: 0o644, uid: 0, gid: 0 }));
  }
  for (const user of config.users ?? []) await applyUser(user, deps, attempt);
  if ((config.ssh_authorized_keys ?? []).length > 0) {
    await attempt('ssh-keys', DEFAULT_USER, async () => addKeys(DEFAULT_USER, config.ssh_authorized_keys ?? [], deps.root, await readPasswdDb(deps.root.path)));
  }
  for (const file of config.write_files ?? []) {
    await attempt('file', file.path, async () => {
      const owner = resolveOwner(await readPasswdDb(deps.root.path), file.owner ?? 'root:root');
      if (owner === null) throw new CloudConfigError('ERR_CLOUD_CONFIG_APPLY', `owner "${file.owner ?? ''}" of ${file.path} is not on this host`);
      return deps.root.writeFile(file.path, decodeContent(file.content ?? '', file.encoding), { mode: file.permissions ?? 0o644, ...owner });
    });
  }
  // Before the units: a unit that pulls an image at start meets the trust policy, never a gap.
  for (const file of imageTrustFiles(config.slipway?.image_trust ?? [])) {
    await attempt('image-trust', file.path, () => deps.root.writeFile(file.path, Buffer.from(file.content), { mode: 0o644, uid: 0, gid: 0 }));
  }
  await applyUnits(config.coreos?.units ?? [], deps.root, deps.systemd, attempt);
  const fragment = agentFragment(config);
  if (fragment !== null) {
    // 0600: it may hold the etcd password.
    await attempt('agent-config', AGENT_FRAGMENT_PATH, () => deps.root.writeFile(AGENT_FRAGMENT_PATH, Buffer.from(fragment), { mode: 0o600, uid: 0, gid: 0 }));
  }
  return { steps, failed: steps.filter((s) => s.result === 'failed').length, changed: steps.filter((s) => s.result === 'changed').length };
}

async function applyUser(user: UserEntry, deps: ApplyDeps, attempt: Attempt<Step['step']>): Promise<void> {
  await attempt('user', user.name, async () => {
    if ((await readPasswdDb(deps.root.path)).users.has(user.name)) return 'unchanged';
    await deps.accounts.create(user);
    return 'changed';
  });
  const hash = user.passwd;
  if (hash !== undefined) {
    await attempt('password', user.name, async () => {
      if ((await deps.accounts.passwordHash(user.name)) === hash) return 'unchanged';
      await deps.accounts.setPasswordHash(user.name, hash);
      return 'changed';
    });
  }
  const keys = user.ssh_authorized_keys ?? [];
  if (keys.length > 0) await attempt('ssh-keys', user.name, async () => addKeys(user.name, keys, deps.root, await readPasswdDb(deps.root.path)));
}

/** Adds the keys missing from ~/.ssh/authorized_keys, keeping the ones already there; the user owns both, 0700 and 0600. */
async function addKeys(name: string, keys: readonly string[], root: HostRoot, db: PasswdDb): Promise<Change> {
  const account = db.users.get(name);
  if (account === undefined) throw new CloudConfigError('ERR_CLOUD_CONFIG_APPLY', `user ${name} does not exist`);
  const path = posix.join(account.home, '.ssh', 'authorized_keys');
  const current = (await root.readText(path)) ?? '';
  const lines = current.split('\n').filter((line) => line.trim() !== '');
  const missing = keys.map((k) => k.trim()).filter((k) => !lines.includes(k));
  const owner = { uid: account.uid, gid: account.gid };
  const text = missing.length === 0 ? current : `${[...lines, ...missing].join('\n')}\n`;
  return root.writeFile(path, Buffer.from(text), { mode: 0o600, ...owner }, { parentOwner: { mode: 0o700, ...owner } });
}
