// coreos.units applied: unit files, drop-ins and masks written under the root, then one
// daemon-reload (or a networkd reload for its files), then enable and each unit's command through
// systemd, waiting for every job.

import { CloudConfigError } from './cloud-config-errors.ts';
import type { Change, HostRoot, Ownership } from './host-root.ts';
import { isNetworkUnit } from './schema.ts';
import type { UnitEntry } from './schema.ts';
import type { SystemdBus, UnitCommand } from './systemd-bus.ts';

export type UnitStepName = 'unit-file' | 'drop-in' | 'mask' | 'daemon-reload' | 'enable' | UnitCommand;

/** Runs one step and records its outcome, which it returns; a failure is recorded, never thrown. */
export type Attempt<Step extends string> = (step: Step, target: string, action: () => Promise<Change>) => Promise<Change | 'failed'>;

const UNIT_FILE: Ownership = { mode: 0o644, uid: 0, gid: 0 };

/** networkd reads files under systemd/network; reloaded, not enabled, once any of them changed. */
export const NETWORKD = 'systemd-networkd.service';

export function unitDir(unit: UnitEntry): string {
  return `${unit.runtime === true ? '/run' : '/etc'}/systemd/${isNetworkUnit(unit.name) ? 'network' : 'system'}`;
}

/** Every path a unit writes, for the checks made before anything changes. */
export function unitPaths(unit: UnitEntry): string[] {
  const dir = unitDir(unit);
  return [`${dir}/${unit.name}`, ...(unit.drop_ins ?? []).map((d) => `${dir}/${unit.name}.d/${d.name}`)];
}

/**
 * Whether a unit's command runs on this apply. A command that changes state runs when the unit is
 * not yet in that state or its files changed now; a reload-like one only when its files changed.
 * So applying the same document twice queues no job the second time.
 */
export function commandNeeded(command: UnitCommand, filesChanged: boolean, activeState: string): boolean {
  if (filesChanged && command !== 'stop') return true;
  switch (command) {
    case 'start':
    case 'restart':
    case 'reload-or-restart':
      return activeState !== 'active';
    case 'stop':
      return activeState !== 'inactive' && activeState !== 'failed';
    default:
      return false;
  }
}

export async function applyUnits(units: readonly UnitEntry[], root: HostRoot, systemd: SystemdBus, attempt: Attempt<UnitStepName>): Promise<void> {
  const changed = new Set<string>();

  for (const unit of units) {
    const dir = unitDir(unit);
    const writes: [UnitStepName, string, () => Promise<Change>][] = [];
    if (unit.mask === true) writes.push(['mask', `${dir}/${unit.name}`, () => root.link(`${dir}/${unit.name}`, '/dev/null')]);
    else if (unit.content !== undefined) writes.push(['unit-file', `${dir}/${unit.name}`, () => root.writeFile(`${dir}/${unit.name}`, Buffer.from(unit.content ?? ''), UNIT_FILE, { kind: 'replaceable' })]);
    for (const dropIn of unit.drop_ins ?? []) {
      const path = `${dir}/${unit.name}.d/${dropIn.name}`;
      writes.push(['drop-in', path, () => root.writeFile(path, Buffer.from(dropIn.content ?? ''), UNIT_FILE, { kind: 'replaceable' })]);
    }
    for (const [step, target, action] of writes) if ((await attempt(step, target, action)) === 'changed') changed.add(unit.name);
  }
  if ([...changed].some((name) => !isNetworkUnit(name))) {
    await attempt('daemon-reload', 'systemd', async () => {
      await systemd.reload();
      return 'changed';
    });
  }
  if ([...changed].some(isNetworkUnit)) {
    // networkd's ExecReload re-reads its files (networkctl reload); a networkd that is not running is started.
    await attempt('reload-or-restart', NETWORKD, async () => {
      const result = await systemd.run('reload-or-restart', NETWORKD);
      if (result !== 'done') throw new CloudConfigError('ERR_CLOUD_CONFIG_APPLY', `systemd's reload-or-restart job for ${NETWORKD} ended "${result}"; see journalctl -u ${NETWORKD}`);
      return 'changed';
    });
  }
  for (const unit of units) {
    if (unit.enable !== true || unit.mask === true) continue;
    await attempt('enable', unit.name, async () => {
      const state = await systemd.unitFileState(unit.name);
      if (state === 'enabled' || (unit.runtime === true && state === 'enabled-runtime')) return 'unchanged';
      await systemd.enable([unit.name], unit.runtime === true);
      return 'changed';
    });
  }
  for (const unit of units) {
    const command = unit.command;
    if (command === undefined) continue;
    await attempt(command, unit.name, async () => {
      if (!commandNeeded(command, changed.has(unit.name), await systemd.activeState(unit.name))) return 'unchanged';
      const result = await systemd.run(command, unit.name);
      if (result !== 'done') throw new CloudConfigError('ERR_CLOUD_CONFIG_APPLY', `systemd's ${command} job for ${unit.name} ended "${result}"; see journalctl -u ${unit.name}`);
      return 'changed';
    });
  }
}
