// The PayloadWriter port: streams a release's payload into a slot and hashes what a slot holds. The
// update path decides when; the writer (zstd frames in production) knows the payload's encoding.

import type { PayloadDescription } from '../../images/release-manifest.ts';
import type { BlockDevice } from '../slots/block-device.ts';
import type { PayloadSource } from './update-source.ts';

export interface WriteOptions {
  readonly payload: PayloadDescription;
  readonly source: PayloadSource;
  readonly slot: BlockDevice;
  /** Frames already in the slot from an interrupted run (0 for a fresh start). */
  readonly chunksDone: number;
  readonly onProgress: (chunksDone: number, bytesDone: number) => Promise<void>;
  /** How many times a broken connection is resumed before giving up. */
  readonly maxResumes: number;
  readonly onResume?: (at: { chunk: number; offset: number; cause: unknown }) => void;
  /** Frames are flushed and reported together once this many image bytes were written since the last report. */
  readonly commitBytes?: number;
}

export interface PayloadWriter {
  /** Writes the payload from `chunksDone` on; resolves with the SHA-256 (hex) of the whole image. */
  write(options: WriteOptions): Promise<string>;
  /** SHA-256 (hex) of the first `bytes` of `slot`, read back from the device. */
  hash(slot: BlockDevice, bytes: number): Promise<string>;
}
