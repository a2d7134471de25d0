// Which way the next write fetches a release: a delta (the chunks this host lacks) when the signed
// manifest names a chunk index that verifies and a DeltaWriter is wired, else the full download,
// with the reason either way. Used by the update pass and by `slipway plan`.

import { createHash } from 'node:crypto';
import { causeChain, errorCode } from '../../platform/coded-error.ts';
import { parseChunkIndex } from '../../images/chunk-index.ts';
import { resolvePayloadUrl } from '../../images/payload-url.ts';
import type { ReleaseManifest } from '../../images/release-manifest.ts';
import type { SlotName } from '../slots/boot-chooser.ts';
import type { DeltaWriter, FetchPlan, PreparedDelta } from './delta-writer.ts';
import type { UpdateSource } from './update-source.ts';
import type { ChunkIndex } from '../../images/chunk-index.ts';

export interface FetchChoice {
  readonly fetch: FetchPlan;
  /** Null: the full download. */
  readonly delta: PreparedDelta | null;
  readonly index: ChunkIndex | null;
}

export interface FetchChoiceInput {
  readonly manifest: ReleaseManifest;
  readonly manifestUrl: string;
  readonly source: UpdateSource;
  readonly delta: DeltaWriter | undefined;
  readonly booted: { readonly slot: SlotName; readonly version: string };
  readonly target: SlotName;
  /** Full-download groups already in the target from an interrupted run. */
  readonly chunksDone: number;
}

export async function chooseFetch(input: FetchChoiceInput): Promise<FetchChoice> {
  const { payload } = input.manifest;
  const done = Math.min(input.chunksDone, payload.chunks.length);
  const left = payload.size - payload.chunks.slice(0, done).reduce((a, b) => a + b, 0);
  const full = (reason: string): FetchChoice => ({ fetch: { path: 'full', bytes: left, requests: 1, reason }, delta: null, index: null });
  if (payload.index === undefined) return full(`release ${input.manifest.version} has no chunk index (manifest format ${input.manifest.format})`);
  if (input.delta === undefined) return full('delta updates are not wired on this host');
  const indexUrl = resolvePayloadUrl(payload.index.url, input.manifestUrl);
  let index: ChunkIndex;
  try {
    const bytes = await input.source.fetchSmall(indexUrl, payload.index.size);
    const hash = createHash('sha256').update(bytes).digest('hex');
    if (bytes.length !== payload.index.size || hash !== payload.index.sha256) {
      return full(`the chunk index at ${indexUrl} does not verify against the signed manifest (${bytes.length} bytes hashing to ${hash}, signed ${payload.index.size} bytes hashing to ${payload.index.sha256})`);
    }
    index = parseChunkIndex(bytes, payload, indexUrl);
  } catch (error) {
    return full(`the chunk index could not be used: ${causeChain(error)} (${errorCode(error)})`);
  }
  const signedIndex = payload.index;
  const bootedIndex = async (): Promise<ChunkIndex | null> => {
    // The publisher's layout (images/publish-release.ts): releases/<version>/<name>, the booted release's beside this one's.
    const parts = signedIndex.url.split('/');
    if (parts.length !== 3 || parts[0] !== 'releases') return null;
    try {
      const url = resolvePayloadUrl(`releases/${encodeURIComponent(input.booted.version)}/${parts[2] ?? ''}`, input.manifestUrl);
      // Capped near the new index's size: the booted image is about as large.
      return parseChunkIndex(await input.source.fetchSmall(url, 2 * signedIndex.size + 1024 * 1024), null, url);
    } catch {
      return null; // not published in format 4, or gone: the booted slot is cut instead
    }
  };
  try {
    const delta = await input.delta.prepare({ payload, index, booted: input.booted, target: input.target, bootedIndex });
    return { fetch: delta.fetch, delta, index };
  } catch (error) {
    return full(`the slots could not be searched for chunks: ${causeChain(error)} (${errorCode(error)})`);
  }
}
