// coreos.update and coreos.locksmith as a slipway agent configuration fragment, so a host set up
// by a coreos-cloudinit file gets the same update server, channel, reboot strategy and lock; and the
// units coreos.units enables as the health gate's workloads (health.workload_units).

import { stringify } from 'yaml';
import { COREOS_SETTINGS, COREOS_WINDOW } from './coreos-settings.ts';
import { isNetworkUnit } from './schema.ts';
import type { CoreosSetting } from './coreos-settings.ts';
import type { CloudConfig, UnitEntry } from './schema.ts';

/** Where the fragment goes; /etc/slipway/config.d is read after the OS's defaults, so it wins over them. */
export const AGENT_FRAGMENT_PATH = '/etc/slipway/config.d/50-cloud-config.yaml';

/**
 * The host's workloads: units this document enables, in its order, so they start at every boot. A unit
 * only started (`command: start` without `enable`) runs on the boot that applied the document and not
 * after a reboot (slipway applies cloud-config once, where coreos-cloudinit applied it at every boot),
 * so it is no workload of a later boot: a trial gate would wait for it in vain. Not networkd's files
 * (no units of the service manager) and not masked units (they cannot run).
 */
export function workloadUnits(units: readonly UnitEntry[]): string[] {
  const names = units.filter((u) => !isNetworkUnit(u.name) && u.mask !== true && u.enable === true).map((u) => u.name);
  return [...new Set(names)];
}

/** The fragment's YAML, or null when the document says nothing about updates or the lock and starts no unit. */
export function agentFragment(config: CloudConfig): string | null {
  const update: Readonly<Record<string, string | undefined>> | undefined = config.coreos?.update;
  const locksmith: Readonly<Record<string, string | undefined>> | undefined = config.coreos?.locksmith;
  const workloads = workloadUnits(config.coreos?.units ?? []);
  if (update === undefined && locksmith === undefined && workloads.length === 0) return null;
  const fragment: Record<string, unknown> = {};
  const set = (setting: CoreosSetting): void => {
    const value = (setting.section === 'update' ? update : locksmith)?.[setting.key];
    if (value !== undefined) setPath(fragment, setting.fragmentKey, setting.list ? value.split(',').map((v) => v.trim()) : value);
  };
  for (const setting of COREOS_SETTINGS.filter((s) => s.section === 'update')) set(setting);
  const start = locksmith?.[COREOS_WINDOW.start.key];
  if (start !== undefined) setPath(fragment, 'reboot.windows', [{ start, length: locksmith?.[COREOS_WINDOW.length.key] ?? '1h' }]);
  for (const setting of COREOS_SETTINGS.filter((s) => s.section === 'locksmith')) set(setting);
  if (workloads.length > 0) setPath(fragment, 'health.workload_units', workloads);
  return `# Written by slipway cloud-config from coreos.update, coreos.locksmith and coreos.units; edits are overwritten\n# when cloud-config is applied again. Put your own settings in a later-numbered fragment.\n${stringify(fragment)}`;
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  const last = keys.pop() ?? dotted;
  let at = target;
  for (const key of keys) at = (at[key] ??= {}) as Record<string, unknown>;
  at[last] = value;
}
