// Adapters built from the host's files, shared by `slipway agent` and the one-shot commands: the
// running version from os-release, the booted slot, the etcd lock with its TLS files, and the
// update path (got source, keyring, slot devices) that runUpdateOnce and planUpdate take.

import { readFile } from 'node:fs/promises';
import { bootedSlotOrNull, lastGoodSlot } from '../slots/booted-slot.ts';
import { FileBlockDevice } from '../slots/file-block-device.ts';
import { openSlot } from '../slots/open-slot.ts';
import { UpdateError } from '../update/update-errors.ts';
import { readEtcdTls } from '../lock/etcd-connection.ts';
import type { EtcdConnection, EtcdTls } from '../lock/etcd-connection.ts';
import type { EtcdLockBackend } from '../lock/etcd-lock-backend.ts';
import type { BootChooser, SlotName } from '../slots/boot-chooser.ts';
import type { Clock } from '../../platform/clock.ts';
import type { UpdateOnceDeps } from '../update/run-update-once.ts';

/** VERSION_ID of the running OS. */
export async function osReleaseVersion(paths: readonly string[]): Promise<string> {
  for (const path of paths) {
    const text = await readFile(path, 'utf8').catch(() => '');
    const match = /^VERSION_ID="?([^"\n]+)"?$/m.exec(text);
    if (match?.[1]) return match[1];
  }
  throw new UpdateError('ERR_STATE_INVALID', `cannot tell the running version: no VERSION_ID in ${paths.join(' or ')}`);
}

/** The slot named on the kernel command line, else the last slot marked good; null when neither tells. */
export async function findBootedSlot(chooser: BootChooser, procCmdline: string): Promise<SlotName | null> {
  const state = await chooser.read();
  const cmdline = await readFile(procCmdline, 'utf8').catch(() => '');
  return bootedSlotOrNull(cmdline, state.slots) ?? lastGoodSlot(state.slots);
}

/** How to reach etcd and which semaphore: the settings' connection with the group. */
type EtcdLockOptions = EtcdConnection & { readonly group: string; readonly now: () => number };

/**
 * The etcd reboot lock, holders' leases lasting longer than a reboot, with its TLS files already read
 * (readEtcdTls). Its module and got are imported here, at the first lock, not with the rest of the agent.
 */
export async function etcdLock(options: EtcdLockOptions, tls: EtcdTls | null): Promise<EtcdLockBackend> {
  const { openEtcdLockBackend } = await import('../lock/etcd-lock-backend.ts');
  const { endpoints, caFile, certFile, keyFile, username, password } = options;
  return openEtcdLockBackend({ connection: { endpoints, caFile, certFile, keyFile, username, password }, group: options.group, holdTtlSeconds: 30 * 60, callTimeoutMs: 10_000, now: options.now }, tls);
}

/** The etcd reboot lock with its TLS files read. */
export async function openEtcdLock(options: EtcdLockOptions): Promise<EtcdLockBackend> {
  return etcdLock(options, await readEtcdTls(options));
}

export interface UpdatePathOptions {
  readonly servers: readonly string[];
  readonly host: UpdateOnceDeps['host'];
  readonly bootedSlot: SlotName;
  readonly keyring: string;
  readonly chooser: BootChooser;
  readonly disk: string;
  readonly stateDir: string;
  readonly tries: number;
  readonly proxy: string | null;
  readonly clock: Clock;
  readonly random: () => number;
  readonly log: UpdateOnceDeps['log'];
}

/** Everything one pass of the update path needs, on the real disk and network; got and openpgp are imported here. */
export async function updatePath(options: UpdatePathOptions): Promise<UpdateOnceDeps> {
  const [{ loadKeyring }, { DEFAULT_HTTP_SETTINGS, HttpUpdateSource }] = await Promise.all([import('../update/keyring.ts'), import('../update/http-update-source.ts')]);
  return {
    serverUrls: options.servers,
    host: options.host,
    bootedSlot: options.bootedSlot,
    keyring: await loadKeyring(options.keyring),
    source: new HttpUpdateSource({ ...DEFAULT_HTTP_SETTINGS, proxy: options.proxy }, options.clock, options.random),
    chooser: options.chooser,
    openSlot: async (slot) => openSlot(await FileBlockDevice.open(options.disk, { writable: true }), slot),
    stateDir: options.stateDir,
    clock: options.clock,
    tries: options.tries,
    caps: { manifest: DEFAULT_HTTP_SETTINGS.manifestCapBytes, signature: DEFAULT_HTTP_SETTINGS.signatureCapBytes },
    maxResumes: 8,
    log: options.log,
  };
}
