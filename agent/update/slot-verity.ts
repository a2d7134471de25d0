// The slot's dm-verity tree checked against the signed manifest's root hash, after the image's own
// hash matched: an image whose tree is not the tree of its data (or not at the signed place) is the
// release's fault, and nothing is made bootable.

import { checkVerity } from '../../platform/verity/verity-check.ts';
import { UpdateError } from './update-errors.ts';
import type { BlockDevice } from '../slots/block-device.ts';
import type { VerityDescription } from '../../images/release-manifest.ts';
import type { VerityCheck } from '../../platform/verity/verity-check.ts';

/** Streams the slot's data and tree through a 1 MiB piece at a time; the result names the first bad block. */
export function verifySlotVerity(device: BlockDevice, verity: Pick<VerityDescription, 'rootHash' | 'hashOffset'> & Partial<Pick<VerityDescription, 'dataSize' | 'salt'>>): Promise<VerityCheck> {
  return checkVerity((offset, into) => device.readInto(offset, into), verity);
}

/** Throws ERR_VERITY_MISMATCH naming `what` and the first bad block. */
export async function checkSlotVerity(device: BlockDevice, verity: VerityDescription, what: string): Promise<void> {
  const result = await verifySlotVerity(device, verity);
  if (!result.ok) throw new UpdateError('ERR_VERITY_MISMATCH', `${what}: the dm-verity tree does not match the signed root hash ${verity.rootHash}: ${result.message}`);
}
