// Publishes a release into a channel directory any static HTTP server can serve:
//   <out>/<channel>/releases/<version>/{payload.img.zst, manifest.json, manifest.json.asc}  (immutable)
//   <out>/<channel>/{manifest.json, manifest.json.asc}                                      (the latest)
// The image is compressed DEFAULT_CHUNK_SIZE (4 MiB) at a time into independent zstd frames, so a
// download resumes at a frame boundary.

import { ReleaseError } from './release-errors.ts';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_CHUNK_SIZE, isVersion, MANIFEST_FILE, manifestFormat, serializeManifest, SIGNATURE_FILE } from './release-manifest.ts';
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
}

export const PAYLOAD_FILE = 'payload.img.zst';

export async function publishRelease(options: PublishOptions): Promise<{ manifest: ReleaseManifest; manifestPath: string }> {
  if (!isVersion(options.version)) throw new ReleaseError('ERR_VERSION_INVALID', `"${options.version}" is not a version (like 1.2.3 or 1.2.3-rc.1)`);
  const problem = options.rollout === undefined ? null : rolloutProblem(options.rollout);
  if (problem !== null) throw new ReleaseError('ERR_ROLLOUT_INVALID', `release ${options.version}: ${problem}`);
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const channelDir = join(options.outDir, options.channel);
  const releaseDir = join(channelDir, 'releases', options.version);
  if (await stat(releaseDir).then(() => true, () => false)) {
    throw new ReleaseError('ERR_RELEASE_EXISTS', `${releaseDir} exists: a published release is never changed; publish a new version`);
  }
  await mkdir(releaseDir, { recursive: true });

  const treed = options.verity === true ? await verityImage(options.image, join(releaseDir, 'image-with-verity.partial')) : null;
  let payload;
  try {
    payload = await compressImage(treed?.path ?? options.image, join(releaseDir, PAYLOAD_FILE), chunkSize, options.compressionLevel ?? 3);
  } finally {
    if (treed?.appended === true) await rm(treed.path, { force: true });
  }
  const verity = treed?.verity;
  const manifest: ReleaseManifest = {
    // The lowest format that holds it: a release without a rollout or a tree still reaches older agents.
    format: manifestFormat({ rollout: options.rollout, verity }),
    channel: options.channel,
    version: options.version,
    created: options.now.toISOString(),
    expires: new Date(options.now.getTime() + options.expiresInSeconds * 1000).toISOString(),
    arch: options.arch,
    board: options.board,
    payload: { url: `releases/${options.version}/${PAYLOAD_FILE}`, ...payload },
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
