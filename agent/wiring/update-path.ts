// The update path on this host, opened the same way for `slipway agent` and `slipway update --once`:
// the disk and its boot chooser, the booted slot and version, and (loaded on first use) the got
// source, the keyring and the slot devices that runUpdateOnce and planUpdate take.

import { findBootDisk } from '../slots/boot-disk.ts';
import { findBootedSlot } from '../slots/booted-slot.ts';
import { FileBlockDevice } from '../slots/file-block-device.ts';
import { openBootChooser } from '../slots/open-boot-chooser.ts';
import { openSlot } from '../slots/open-slot.ts';
import { SlotError } from '../slots/slot-errors.ts';
import { osReleaseVersion } from '../update-io/os-release.ts';
import type { Clock } from '../../platform/clock.ts';
import type { BootChooser, SlotName } from '../slots/boot-chooser.ts';
import type { Settings } from '../config/settings.ts';
import type { UpdateOnceDeps } from '../update/run-update-once.ts';
import type { HostFiles } from './host-files.ts';

/** The agent's update and slot settings; `update --once` fills the same from its flags. */
export type UpdatePathRequest = Pick<Settings['update'], 'servers' | 'channel' | 'arch' | 'board' | 'keyring' | 'stateDir' | 'tries'> &
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
  readonly log: UpdateOnceDeps['log'];
}

export interface UpdatePath {
  readonly disk: string;
  readonly chooser: BootChooser;
  readonly booted: { readonly slot: SlotName; readonly version: string };
  /** Everything one pass needs; got, openpgp and the keyring are loaded here, not at open. */
  load(): Promise<UpdateOnceDeps>;
}

export async function openUpdatePath(request: UpdatePathRequest, host: UpdateHost): Promise<UpdatePath> {
  const disk = request.disk ?? (await findBootDisk(host.files));
  const chooser = openBootChooser({ disk, kind: request.chooser, grubenv: request.grubenv ?? undefined, sectorSize: undefined });
  const slot = request.bootedSlot ?? (await findBootedSlot(chooser, host.files.procCmdline));
  if (slot === null) {
    throw new SlotError('ERR_BOOTED_SLOT_UNKNOWN', `cannot tell which slot of ${disk} is running: ${host.files.procCmdline} names none and no slot is marked good (--booted SLOT tells it)`);
  }
  const version = request.bootedVersion ?? (await osReleaseVersion(host.files.osRelease));
  return {
    disk,
    chooser,
    booted: { slot, version },
    load: async () => {
      const [{ loadKeyring }, { OpenpgpReleaseVerifier }, { DEFAULT_HTTP_SETTINGS, HttpUpdateSource }, { zstdPayloadWriter }, { FileRecordStore }] = await Promise.all([
        import('../update-io/keyring.ts'),
        import('../update-io/signature-verifier.ts'),
        import('../update-io/http-update-source.ts'),
        import('../update-io/payload-apply.ts'),
        import('../update-io/state-file.ts'),
      ]);
      return {
        serverUrls: request.servers,
        host: { channel: request.channel, arch: request.arch, board: request.board, bootedVersion: version },
        bootedSlot: slot,
        verifier: new OpenpgpReleaseVerifier(await loadKeyring(request.keyring)),
        source: new HttpUpdateSource({ ...DEFAULT_HTTP_SETTINGS, proxy: host.proxy }, host.clock, host.random),
        payload: zstdPayloadWriter,
        chooser,
        openSlot: async (target) => openSlot(await FileBlockDevice.open(disk, { writable: true }), target),
        records: new FileRecordStore(request.stateDir),
        clock: host.clock,
        tries: request.tries,
        caps: { manifest: DEFAULT_HTTP_SETTINGS.manifestCapBytes, signature: DEFAULT_HTTP_SETTINGS.signatureCapBytes },
        maxResumes: 8,
        log: host.log,
      };
    },
  };
}
