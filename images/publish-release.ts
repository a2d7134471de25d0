// Publishes a release into a channel directory any static HTTP server can serve:
//   <out>/<channel>/releases/<version>/{payload.img.zst, manifest.json, manifest.json.asc}  (immutable)
//   <out>/<channel>/{manifest.json, manifest.json.asc}                                      (the latest)
// The image is compressed DEFAULT_CHUNK_SIZE (4 MiB) at a time into independent zstd frames, so a
// download resumes at a frame boundary; at format 4 each group is one frame per content-defined chunk
// and releases/<version>/payload.img.zst.chunks.idx lists them (docs/delta.md).

import { ReleaseError } from './release-errors.ts';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_CHUNK_SIZE, DELTA_MANIFEST_FORMAT, isVersion, LATEST_MANIFEST_FORMAT, MANIFEST_FILE, manifestFormat, serializeManifest, SIGNATURE_FILE } from './release-manifest.ts';
import { DEFAULT_CHUNKING } from './content-chunker.ts';
import { verityImage } from './verity-image.ts';
import { rolloutProblem } from './rollout-schedule.ts';
import { signDetached } from './release-key.ts';
import { compressImage } from './payload-compress.ts';
import type { ReleaseManifest } from './release-manifest.ts';
import type { RolloutSchedule } from './rollout-schedule.ts';

export interface PublishOptions {
  readonly image: string;
  readonly version: string;
  readonly channel: string;
  readonly arch: string;
  readonly board: string;
  readonly privateKeyArmored: string;
  readonly outDir: string;
  readonly now: Date;
  readonly expiresInSeconds: number;
  readonly chunkSize?: number;
  readonly compressionLevel?: number;
  /** When hosts may take it (images/rollout-schedule.ts); absent: every host at once. */
  readonly rollout?: RolloutSchedule;
  /**
   * Carry a dm-verity tree (format 3): an image that ends with one has it checked, any other is
   * published as a copy with one appended (images/verity-image.ts). Absent or false: none.
   */
  readonly verity?: boolean;
  /**
   * The newest manifest format the fleet's agents read (default: the newest this build writes). At
   * 4 or more the payload is cut into content-defined chunks with an index beside it for delta
   * updates; below, the payload is fixed frames and the release reaches agents of that format.
   */
  readonly maxFormat?: number;
}

export const PAYLOAD_FILE = 'payload.img.zst';
/** The chunk index's name: the payload's, with this after it. */
export const INDEX_SUFFIX = '.chunks.idx';

export async function publishRelease(options: PublishOptions): Promise<{ manifest: ReleaseManifest; manifestPath: string }> {
  if (!isVersion(options.version)) throw new ReleaseError('ERR_VERSION_INVALID', `"${options.version}" is not a version (like 1.2.3 or 1.2.3-rc.1)`);
  const problem = options.rollout === undefined ? null : rolloutProblem(options.rollout);
  if (problem !== null) throw new ReleaseError('ERR_ROLLOUT_INVALID', `release ${options.version}: ${problem}`);
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const maxFormat = options.maxFormat ?? LATEST_MANIFEST_FORMAT;
  if (!Number.isSafeInteger(maxFormat) || maxFormat < 1 || maxFormat > LATEST_MANIFEST_FORMAT) {
    throw new ReleaseError('ERR_FORMAT_INVALID', `format ${maxFormat} is not one this build writes (1 to ${LATEST_MANIFEST_FORMAT})`);
  }
  if (options.rollout !== undefined && maxFormat < 2) throw new ReleaseError('ERR_FORMAT_INVALID', `a rollout needs format 2; --format is ${maxFormat}`);
  if (options.verity === true && maxFormat < 3) throw new ReleaseError('ERR_FORMAT_INVALID', `a dm-verity tree needs format 3; --format is ${maxFormat} (publish with --no-verity)`);
  const channelDir = join(options.outDir, options.channel);
  const releaseDir = join(channelDir, 'releases', options.version);
  if (await stat(releaseDir).then(() => true, () => false)) {
    throw new ReleaseError('ERR_RELEASE_EXISTS', `${releaseDir} exists: a published release is never changed; publish a new version`);
  }
  await mkdir(releaseDir, { recursive: true });

  const treed = options.verity === true ? await verityImage(options.image, join(releaseDir, 'image-with-verity.partial')) : null;
  let payload;
  try {
    const cdc = maxFormat >= DELTA_MANIFEST_FORMAT ? { chunking: DEFAULT_CHUNKING, indexPath: join(releaseDir, `${PAYLOAD_FILE}${INDEX_SUFFIX}`) } : undefined;
    payload = await compressImage(treed?.path ?? options.image, join(releaseDir, PAYLOAD_FILE), chunkSize, options.compressionLevel ?? 3, cdc);
  } finally {
    if (treed?.appended === true) await rm(treed.path, { force: true });
  }
  const verity = treed?.verity;
  const { chunkIndex: index, ...fixed } = payload;
  const indexField = index === undefined ? undefined : { url: `releases/${options.version}/${PAYLOAD_FILE}${INDEX_SUFFIX}`, size: index.size, sha256: index.sha256 };
  const manifest: ReleaseManifest = {
    // The lowest format that holds it: a release without a rollout or a tree still reaches older agents.
    format: manifestFormat({ rollout: options.rollout, verity, index: indexField }),
    channel: options.channel,
    version: options.version,
    created: options.now.toISOString(),
    expires: new Date(options.now.getTime() + options.expiresInSeconds * 1000).toISOString(),
    arch: options.arch,
    board: options.board,
    payload: { url: `releases/${options.version}/${PAYLOAD_FILE}`, ...fixed, ...(indexField === undefined ? {} : { index: indexField }) },
    ...(options.rollout === undefined ? {} : { rollout: options.rollout }),
    ...(verity === undefined ? {} : { verity }),
  };
  const bytes = serializeManifest(manifest);
  const signature = await signDetached(bytes, options.privateKeyArmored, options.now);
  await writeFile(join(releaseDir, MANIFEST_FILE), bytes);
  await writeFile(join(releaseDir, SIGNATURE_FILE), signature);
  // The payload URL is relative to the channel directory, so the copies in releases/<version>/ are
  // for archives; clients read the channel's latest pair. Each file of the pair is swapped by rename;
  // a client that reads one old and one new file fails verification and retries at its next check.
  await replaceFile(join(channelDir, SIGNATURE_FILE), Buffer.from(signature));
  await replaceFile(join(channelDir, MANIFEST_FILE), bytes);
  return { manifest, manifestPath: join(channelDir, MANIFEST_FILE) };
}

async function replaceFile(path: string, data: Uint8Array): Promise<void> {
  await writeFile(`${path}.tmp`, data);
  await rename(`${path}.tmp`, path);
}
