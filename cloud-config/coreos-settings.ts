// CoreOS's update and reboot-lock settings, and the slipway setting each one is: coreos-cloudinit's
// coreos.update and coreos.locksmith keys, and the variables it writes from them for update_engine
// (/etc/coreos/update.conf) and locksmithd (LOCKSMITHD_* in a drop-in). The one table that both
// cloud-config's agent fragment and the agent's reading of CoreOS files go by.

export interface CoreosSetting {
  /** Where cloud-config has it: coreos.update.KEY or coreos.locksmith.KEY. */
  readonly section: 'update' | 'locksmith';
  readonly key: string;
  /** The variable in update.conf or locksmithd's environment. */
  readonly variable: string;
  /** The slipway configuration fragment key (dotted) that sets the same. */
  readonly fragmentKey: string;
  /** A comma-separated list in CoreOS, a list in a fragment. */
  readonly list?: true;
}

export const COREOS_SETTINGS: readonly CoreosSetting[] = [
  { section: 'update', key: 'server', variable: 'SERVER', fragmentKey: 'update.server' },
  { section: 'update', key: 'group', variable: 'GROUP', fragmentKey: 'update.channel' },
  { section: 'update', key: 'reboot_strategy', variable: 'REBOOT_STRATEGY', fragmentKey: 'reboot.strategy' },
  { section: 'locksmith', key: 'group', variable: 'LOCKSMITHD_GROUP', fragmentKey: 'lock.group' },
  { section: 'locksmith', key: 'endpoint', variable: 'LOCKSMITHD_ENDPOINT', fragmentKey: 'lock.etcd.endpoints', list: true },
  { section: 'locksmith', key: 'etcd_cafile', variable: 'LOCKSMITHD_ETCD_CAFILE', fragmentKey: 'lock.etcd.ca_file' },
  { section: 'locksmith', key: 'etcd_certfile', variable: 'LOCKSMITHD_ETCD_CERTFILE', fragmentKey: 'lock.etcd.cert_file' },
  { section: 'locksmith', key: 'etcd_keyfile', variable: 'LOCKSMITHD_ETCD_KEYFILE', fragmentKey: 'lock.etcd.key_file' },
  { section: 'locksmith', key: 'etcd_username', variable: 'LOCKSMITHD_ETCD_USERNAME', fragmentKey: 'lock.etcd.username' },
  { section: 'locksmith', key: 'etcd_password', variable: 'LOCKSMITHD_ETCD_PASSWORD', fragmentKey: 'lock.etcd.password' },
];

/** locksmith's reboot window: two settings that make one `reboot.windows` entry together. */
export const COREOS_WINDOW = {
  start: { key: 'window_start', variable: 'LOCKSMITHD_REBOOT_WINDOW_START' },
  length: { key: 'window_length', variable: 'LOCKSMITHD_REBOOT_WINDOW_LENGTH' },
} as const;
