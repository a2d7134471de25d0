// Adapters built from the host's files, shared by `slipway agent` and the one-shot commands: the
// running version from os-release, the booted slot, the etcd lock with its TLS files, and the
// update path (got source, keyring, slot devices) that runUpdateOnce and planUpdate take.

import { readFile } from 'node:fs/promises';
import { EtcdLockBackend } from '../lock/etcd-lock-backend.ts';
import { bootedSlotOrNull, lastGoodSlot } from '../slots/booted-slot.ts';
import { FileBlockDevice } from '../slots/file-block-device.ts';
import { openSlot } from '../slots/open-slot.ts';
import { DEFAULT_HTTP_SETTINGS, HttpUpdateSource } from '../update/http-update-source.ts';
import { loadKeyring } from '../update/keyring.ts';
import { UpdateError } from '../update/update-errors.ts';
import type { BootChooser, SlotName } from '../slots/boot-chooser.ts';
import type { Clock } from '../update/clock.ts';
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

export interface EtcdLockOptions {
  readonly endpoints: readonly string[];
  readonly group: string;
  readonly caFile: string | null;
  readonly certFile: string | null;
  readonly keyFile: string | null;
  readonly username: string | null;
  readonly password: string | null;
  readonly now: () => number;
}

/** The etcd reboot lock, with the TLS files read and holders' leases lasting longer than a reboot. */
export async function openEtcdLock(options: EtcdLockOptions): Promise<EtcdLockBackend> {
  const read = (path: string | null): Promise<Buffer | undefined> => (path === null ? Promise.resolve(undefined) : readFile(path));
  const [ca, cert, key] = await Promise.all([read(options.caFile), read(options.certFile), read(options.keyFile)]);
  return new EtcdLockBackend({
    endpoints: options.endpoints,
    group: options.group,
    holdTtlSeconds: 30 * 60,
    callTimeoutMs: 10_000,
    now: options.now,
    ...(options.username === null ? {} : { username: options.username, password: options.password ?? '' }),
    ...(ca || cert || key ? { tls: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } } : {}),
  });
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

/** Everything one pass of the update path needs, on the real disk and network. */
export async function updatePath(options: UpdatePathOptions): Promise<UpdateOnceDeps> {
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
