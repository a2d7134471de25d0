// coreos.update and coreos.locksmith as a slipway agent configuration fragment, so a host set up
// by a coreos-cloudinit file gets the same update server, channel, reboot strategy and lock.

import { stringify } from 'yaml';
import type { CloudConfig } from './schema.ts';

/** Where the fragment goes; /etc/slipway/config.d is read after the OS's defaults, so it wins over them. */
export const AGENT_FRAGMENT_PATH = '/etc/slipway/config.d/50-cloud-config.yaml';

/** The fragment's YAML, or null when the document says nothing about updates or the lock. */
export function agentFragment(config: CloudConfig): string | null {
  const update = config.coreos?.update;
  const locksmith = config.coreos?.locksmith;
  if (update === undefined && locksmith === undefined) return null;
  const fragment: Record<string, unknown> = {};
  if (update?.server !== undefined || update?.group !== undefined) {
    fragment.update = { ...(update.server === undefined ? {} : { server: update.server }), ...(update.group === undefined ? {} : { channel: update.group }) };
  }
  const reboot: Record<string, unknown> = {};
  if (update?.reboot_strategy !== undefined) reboot.strategy = update.reboot_strategy;
  if (locksmith?.window_start !== undefined) reboot.windows = [{ start: locksmith.window_start, length: locksmith.window_length ?? '1h' }];
  if (Object.keys(reboot).length > 0) fragment.reboot = reboot;
  const etcd: Record<string, unknown> = {};
  if (locksmith?.endpoint !== undefined) etcd.endpoints = locksmith.endpoint.split(',').map((e) => e.trim());
  if (locksmith?.etcd_cafile !== undefined) etcd.ca_file = locksmith.etcd_cafile;
  if (locksmith?.etcd_certfile !== undefined) etcd.cert_file = locksmith.etcd_certfile;
  if (locksmith?.etcd_keyfile !== undefined) etcd.key_file = locksmith.etcd_keyfile;
  if (locksmith?.etcd_username !== undefined) etcd.username = locksmith.etcd_username;
  if (locksmith?.etcd_password !== undefined) etcd.password = locksmith.etcd_password;
  const lock: Record<string, unknown> = {};
  if (locksmith?.group !== undefined) lock.group = locksmith.group;
  if (Object.keys(etcd).length > 0) lock.etcd = etcd;
  if (Object.keys(lock).length > 0) fragment.lock = lock;
  return `# Written by slipway cloud-config from coreos.update and coreos.locksmith; edits are overwritten\n# when cloud-config is applied again. Put your own settings in a later-numbered fragment.\n${stringify(fragment)}`;
}
