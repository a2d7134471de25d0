// The update path on this host, opened the same way for `slipway agent` and `slipway update --once`:
// the disk and its boot chooser, the booted slot and version, and (loaded on first use) the got
// source, the keyring and the slot devices that runUpdateOnce and planUpdate take. The chooser and
// the slot opener are guarded: nothing is written while the booted slot is unknown, and the booted
// slot's contents never.

import { findBootDisk } from '../slots/boot-disk.ts';
import { findBootedSlot, requireBooted } from '../slots/booted-slot.ts';
import { diskUnknownChooser, guardBootChooser, refuseBootedTarget } from '../slots/booted-guard.ts';
import { SlotError } from '../slots/slot-errors.ts';
import { FileBlockDevice } from '../slots/file-block-device.ts';
import { openBootChooser, openSlotHashStore } from '../slots/open-boot-chooser.ts';
import { openSlot } from '../slots/open-slot.ts';
import { osReleaseVersion } from '../update-io/os-release.ts';
import type { Clock } from '../../platform/clock.ts';
import type { BootChooser, SlotName } from '../slots/boot-chooser.ts';
import type { BootedSlot } from '../slots/booted-slot.ts';
import type { Settings } from '../config/settings.ts';
import type { UpdateOnceDeps } from '../update/run-update-once.ts';
import type { HostFiles } from './host-files.ts';
import type { SlotHashStore } from '../slots/slot-hash-store.ts';

/** The agent's update and slot settings; `update --once` fills the same from its flags. */
export type UpdatePathRequest = Pick<Settings['update'], 'servers' | 'channel' | 'arch' | 'board' | 'keyring' | 'stateDir' | 'tries' | 'minRateBytesPerSecond' | 'rateWindowSeconds' | 'maxClockSkewSeconds'> &
  Pick<Settings['slots'], 'disk' | 'chooser' | 'grubenv'> & {
    /** Given by an operator working on an image file; otherwise read from the host. */
    readonly bootedSlot?: SlotName;
    readonly bootedVersion?: string;
  };

export interface UpdateHost {
  readonly files: HostFiles;
  readonly clock: Clock;
  readonly random: () => number;
  readonly proxy: string | null;
  /** /etc/machine-id's contents, read when the path is loaded: this host's place in a rollout. */
  readonly machineId: () => Promise<string>;
  readonly log: UpdateOnceDeps['log'];
}

export interface UpdatePath {
  readonly disk: string;
  readonly chooser: BootChooser;
  /** The running slot as the facts say (known or not, with why), and the running version. */
  readonly booted: { readonly slot: BootedSlot; readonly version: string };
  /** Everything one pass needs; got, openpgp and the keyring are loaded here, not at open. Refused while the booted slot is unknown. */
  load(): Promise<UpdateOnceDeps>;
}

export async function openUpdatePath(request: UpdatePathRequest, host: UpdateHost): Promise<UpdatePath> {
  const found = request.disk ?? (await findBootDisk(host.files).catch((error: unknown) => error));
  if (typeof found !== 'string') {
    // No disk is configured and nothing says what booted: an agent still answers (phase slot-unknown).
    if (!(found instanceof SlotError && found.code === 'ERR_BOOTED_SLOT_UNKNOWN')) throw found;
    return diskUnknownPath(found, request, host);
  }
  const disk = found;
  const unguarded = openBootChooser({ disk, kind: request.chooser, grubenv: request.grubenv ?? undefined, sectorSize: undefined });
  const { slots } = await unguarded.read();
  const booted = await findBootedSlot({ ...host.files, bootedSlot: request.bootedSlot ?? host.files.bootedSlot }, slots, disk);
  const chooser = guardBootChooser(unguarded, booted);
  const version = request.bootedVersion ?? (await osReleaseVersion(host.files.osRelease));
  return {
    disk,
    chooser,
    booted: { slot: booted, version },
    load: async () => {
      const slot = requireBooted(booted);
      const [{ loadKeyring }, { OpenpgpReleaseVerifier }, { DEFAULT_HTTP_SETTINGS, HttpUpdateSource }, { zstdPayloadWriter }, { FileRecordStore }, { ChunkDeltaWriter }] = await Promise.all([
        import('../update-io/keyring.ts'),
        import('../update-io/signature-verifier.ts'),
        import('../update-io/http-update-source.ts'),
        import('../update-io/payload-apply.ts'),
        import('../update-io/state-file.ts'),
        import('../update-io/delta-apply.ts'),
      ]);
      return {
        serverUrls: request.servers,
        host: { channel: request.channel, arch: request.arch, board: request.board, bootedVersion: version },
        bootedSlot: slot,
        verifier: new OpenpgpReleaseVerifier(await loadKeyring(request.keyring)),
        source: new HttpUpdateSource(
          { ...DEFAULT_HTTP_SETTINGS, proxy: host.proxy, minRateBytesPerSecond: request.minRateBytesPerSecond, rateWindowMs: request.rateWindowSeconds * 1000 },
          host.clock,
          host.random,
        ),
        payload: zstdPayloadWriter,
        // Reads the booted slot (never opened writable) and the target before writing; caches chunk maps in the state dir.
        delta: new ChunkDeltaWriter({
          openReadOnly: async (name) => openSlot(await FileBlockDevice.open(disk, { writable: false }), name),
          cacheDir: request.stateDir,
          log: host.log,
        }),
        chooser,
        ...withHashes(request.grubenv),
        openSlot: async (target) => {
          refuseBootedTarget(booted, target, 'write an image into');
          return openSlot(await FileBlockDevice.open(disk, { writable: true }), target);
        },
        records: new FileRecordStore(request.stateDir),
        clock: host.clock,
        tries: request.tries,
        maxClockSkewMs: request.maxClockSkewSeconds * 1000,
        machineId: await host.machineId(),
        caps: { manifest: DEFAULT_HTTP_SETTINGS.manifestCapBytes, signature: DEFAULT_HTTP_SETTINGS.signatureCapBytes },
        maxResumes: 8,
        log: host.log,
      };
    },
  };
}

function withHashes(grubenv: string | null): { hashes?: SlotHashStore } {
  const hashes = openSlotHashStore({ grubenv: grubenv ?? undefined });
  return hashes === null ? {} : { hashes };
}

async function diskUnknownPath(error: SlotError, request: UpdatePathRequest, host: UpdateHost): Promise<UpdatePath> {
  return {
    disk: '(unknown)',
    chooser: diskUnknownChooser(request.chooser, error),
    booted: { slot: { known: false, error }, version: request.bootedVersion ?? (await osReleaseVersion(host.files.osRelease)) },
    load: () => Promise.reject(error),
  };
}
