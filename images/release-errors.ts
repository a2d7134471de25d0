// Error classes of the publisher side: publishing a release and building the OS image.

import { CodedError } from '../platform/coded-error.ts';

export type ReleaseErrorCode =
  | 'ERR_VERSION_INVALID'
  /** A published release is never changed: the version's directory exists. */
  | 'ERR_RELEASE_EXISTS'
  /** A rollout schedule agents would refuse (images/rollout-schedule.ts). */
  | 'ERR_ROLLOUT_INVALID'
  /** A --format this build does not write, or one too old for what the release carries. */
  | 'ERR_FORMAT_INVALID'
  /** An image whose verity tree is not the tree of its data, or that cannot carry one. */
  | 'ERR_VERITY_INVALID'
  /** A step of building the OS image (mmdebstrap, mksquashfs, the disk layout) failed. */
  | 'ERR_IMAGE_BUILD';

export class ReleaseError extends CodedError<ReleaseErrorCode> {
  override name = 'ReleaseError';
}
