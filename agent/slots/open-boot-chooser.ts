// Opens the boot chooser of a disk or disk image: gptprio on the GPT's slot attributes, or grubenv on
// a GRUB environment file. The request is the slot engine's own; the CLI's flags and the agent's
// settings fill it in.

import { FileBlockDevice } from './file-block-device.ts';
import { GptBootChooser } from './gpt-boot-chooser.ts';
import { GrubenvBootChooser } from './grubenv-boot-chooser.ts';
import { SlotError } from './slot-errors.ts';
import { GrubenvSlotHashStore } from './grubenv-hash-store.ts';
import type { BootChooser } from './boot-chooser.ts';
import type { SlotHashStore } from './slot-hash-store.ts';

export type ChooserKind = 'gptprio' | 'grubenv';

export interface ChooserRequest {
  readonly disk: string;
  readonly kind: ChooserKind;
  /** The GRUB environment block; the grubenv chooser needs it. */
  readonly grubenv: string | undefined;
  /** For image files only: the logical sector size, when probing for the GPT must not decide. */
  readonly sectorSize: number | undefined;
}

export function openBootChooser(request: ChooserRequest): BootChooser {
  const openDevice = ({ writable }: { writable: boolean }): Promise<FileBlockDevice> =>
    FileBlockDevice.open(request.disk, request.sectorSize === undefined ? { writable } : { writable, sectorSize: request.sectorSize });
  if (request.kind === 'gptprio') return new GptBootChooser(openDevice);
  if (request.grubenv === undefined) throw new SlotError('ERR_CHOOSER_INVALID', `the grubenv chooser of ${request.disk} needs its GRUB environment file (--grubenv PATH, or slots.grubenv)`);
  return new GrubenvBootChooser(openDevice, request.grubenv);
}

/**
 * Where the slots' root hashes are recorded: the GRUB environment block, for either chooser (gptprio
 * keeps its flags in the GPT, whose attribute bits have no room for a hash; GRUB reads the block on
 * the ESP with load_env). Null when no block is configured: nothing is recorded.
 */
export function openSlotHashStore(request: Pick<ChooserRequest, 'grubenv'>): SlotHashStore | null {
  return request.grubenv === undefined ? null : new GrubenvSlotHashStore(request.grubenv);
}
