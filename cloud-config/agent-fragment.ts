// coreos.update and coreos.locksmith as a slipway agent configuration fragment, so a host set up
// by a coreos-cloudinit file gets the same update server, channel, reboot strategy and lock.

import { stringify } from 'yaml';
import { COREOS_SETTINGS, COREOS_WINDOW } from './coreos-settings.ts';
import type { CoreosSetting } from './coreos-settings.ts';
import type { CloudConfig } from './schema.ts';

/** Where the fragment goes; /etc/slipway/config.d is read after the OS's defaults, so it wins over them. */
export const AGENT_FRAGMENT_PATH = '/etc/slipway/config.d/50-cloud-config.yaml';

/** The fragment's YAML, or null when the document says nothing about updates or the lock. */
export function agentFragment(config: CloudConfig): string | null {
  const update: Readonly<Record<string, string | undefined>> | undefined = config.coreos?.update;
  const locksmith: Readonly<Record<string, string | undefined>> | undefined = config.coreos?.locksmith;
  if (update === undefined && locksmith === undefined) return null;
  const fragment: Record<string, unknown> = {};
  const set = (setting: CoreosSetting): void => {
    const value = (setting.section === 'update' ? update : locksmith)?.[setting.key];
    if (value !== undefined) setPath(fragment, setting.fragmentKey, setting.list ? value.split(',').map((v) => v.trim()) : value);
  };
  for (const setting of COREOS_SETTINGS.filter((s) => s.section === 'update')) set(setting);
  const start = locksmith?.[COREOS_WINDOW.start.key];
  if (start !== undefined) setPath(fragment, 'reboot.windows', [{ start, length: locksmith?.[COREOS_WINDOW.length.key] ?? '1h' }]);
  for (const setting of COREOS_SETTINGS.filter((s) => s.section === 'locksmith')) set(setting);
  return `# Written by slipway cloud-config from coreos.update and coreos.locksmith; edits are overwritten\n# when cloud-config is applied again. Put your own settings in a later-numbered fragment.\n${stringify(fragment)}`;
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  const last = keys.pop() ?? dotted;
  let at = target;
  for (const key of keys) at = (at[key] ??= {}) as Record<string, unknown>;
  at[last] = value;
}
