// The release manifest: the one definition of its format, used by the publisher to write it and by
// the agent to read it. The agent trusts a manifest only after its detached signature verified.

import { findDuplicateKey } from '../platform/json-duplicate-keys.ts';
import { ManifestError } from './manifest-error.ts';
import { payloadUrlProblem } from './payload-url.ts';
import { rolloutProblem } from './rollout-schedule.ts';
import { verityProblem } from './verity-manifest.ts';
import type { RolloutSchedule } from './rollout-schedule.ts';
import type { VerityDescription } from './verity-manifest.ts';

export { ManifestError };
export type { RolloutSchedule, VerityDescription };

/**
 * Format 1: every field below but `rollout`. Format 2: format 1 and an optional `rollout`. A field an
 * older agent would ignore (it parses format 1 and ignores what it does not know) must not change what
 * the release means: an agent from before waves would take a rollout release at once, so a manifest
 * with a rollout says format 2, which such an agent refuses (and reports) instead. The publisher
 * writes the lowest format that holds what it says. Format 3: format 2 and an optional `verity` (the
 * slot's dm-verity root hash): an agent that ignored it would stage a slot without recording the hash
 * its boot checks the root against. Format 4: format 3 and an optional `payload.index` (the chunk
 * index for delta updates, images/chunk-index.ts): its payload's groups hold one frame per content-
 * defined chunk, which an agent of format 3 would still apply, but the field is refused there so a
 * document means one thing to every agent that reads it.
 */
export const MANIFEST_FORMAT = 1;
export const ROLLOUT_MANIFEST_FORMAT = 2;
export const VERITY_MANIFEST_FORMAT = 3;
export const DELTA_MANIFEST_FORMAT = 4;
/** The newest format this build reads and writes. */
export const LATEST_MANIFEST_FORMAT = DELTA_MANIFEST_FORMAT;
const FORMATS: readonly number[] = [MANIFEST_FORMAT, ROLLOUT_MANIFEST_FORMAT, VERITY_MANIFEST_FORMAT, DELTA_MANIFEST_FORMAT];
export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.json.asc';
/** Each chunk of the image is compressed as its own zstd frame, so a download can resume at a chunk. */
export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;

export interface PayloadDescription {
  /** Relative to the manifest's URL, under its releases/ (images/payload-url.ts says what is taken). */
  readonly url: string;
  readonly compression: 'zstd';
  /** Compressed bytes, the SHA-256 of those bytes. */
  readonly size: number;
  readonly sha256: string;
  /** Bytes of the slot image once decompressed, and their SHA-256. */
  readonly imageSize: number;
  readonly imageSha256: string;
  /** Image bytes per zstd frame; the last frame may hold fewer. */
  readonly chunkSize: number;
  /**
   * Compressed size of each group of chunkSize image bytes, in order; they add up to `size`. A group
   * is one zstd frame, or (with an index) one frame per content-defined chunk in it.
   */
  readonly chunks: readonly number[];
  /** The chunk index beside the payload (format 4); absent: no delta update, the full download only. */
  readonly index?: IndexDescription;
}

/** Where the chunk index is and what it must hash to: its content is images/chunk-index.ts. */
export interface IndexDescription {
  /** Relative to the manifest's URL, like payload.url. */
  readonly url: string;
  readonly size: number;
  readonly sha256: string;
}

export interface ReleaseManifest {
  readonly format: typeof MANIFEST_FORMAT | typeof ROLLOUT_MANIFEST_FORMAT | typeof VERITY_MANIFEST_FORMAT | typeof DELTA_MANIFEST_FORMAT;
  readonly channel: string;
  readonly version: string;
  /** ISO 8601 times. */
  readonly created: string;
  readonly expires: string;
  readonly arch: string;
  readonly board: string;
  readonly payload: PayloadDescription;
  /** When hosts may take the release (format 2); absent: every host at once. */
  readonly rollout?: RolloutSchedule;
  /** The image's dm-verity tree (format 3); absent: the slot boots without a recorded root hash. */
  readonly verity?: VerityDescription;
}

/** The lowest format that holds what a manifest says. */
export function manifestFormat(fields: { readonly rollout?: unknown; readonly verity?: unknown; readonly index?: unknown }): ReleaseManifest['format'] {
  if (fields.index !== undefined) return DELTA_MANIFEST_FORMAT;
  if (fields.verity !== undefined) return VERITY_MANIFEST_FORMAT;
  return fields.rollout === undefined ? MANIFEST_FORMAT : ROLLOUT_MANIFEST_FORMAT;
}

export function serializeManifest(manifest: ReleaseManifest): Uint8Array {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
}

const HEX64 = /^[0-9a-f]{64}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Parses strictly (no key given twice) and checks every field; the error names the source and the field. */
export function parseManifest(bytes: Uint8Array, source: string): ReleaseManifest {
  const text = Buffer.from(bytes).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ManifestError(`manifest from ${source} is not JSON`, { cause });
  }
  const fail = (field: string, problem: string): never => {
    throw new ManifestError(`manifest from ${source}: ${field} ${problem}`);
  };
  // JSON.parse keeps the last of a repeated key: a signed document that says two things is refused.
  const duplicate = findDuplicateKey(text);
  if (duplicate !== null) {
    throw new ManifestError(`manifest from ${source}: duplicate key ${JSON.stringify(duplicate.key)} at ${duplicate.path}; a signed document must say each thing once`);
  }
  if (typeof value !== 'object' || value === null) return fail('document', 'is not an object');
  const m = value as Record<string, unknown>;
  if (typeof m.format !== 'number' || !FORMATS.includes(m.format)) fail('format', `must be ${FORMATS.join(', ')}, got ${JSON.stringify(m.format)}`);
  for (const field of ['channel', 'arch', 'board'] as const) {
    if (typeof m[field] !== 'string' || !NAME.test(m[field])) fail(field, 'must be a short name of letters, digits, ".", "_" or "-"');
  }
  if (typeof m.version !== 'string' || !isVersion(m.version)) fail('version', `is not a version: ${JSON.stringify(m.version)}`);
  for (const field of ['created', 'expires'] as const) {
    if (typeof m[field] !== 'string' || Number.isNaN(Date.parse(m[field]))) fail(field, 'must be an ISO 8601 time');
  }
  const p = m.payload;
  if (typeof p !== 'object' || p === null) return fail('payload', 'is missing');
  const payload = p as Record<string, unknown>;
  if (typeof payload.url !== 'string') fail('payload.url', 'must be a string');
  const urlProblem = payloadUrlProblem(payload.url as string);
  if (urlProblem !== null) fail(`payload.url ${JSON.stringify(payload.url)}`, urlProblem);
  if (payload.compression !== 'zstd') fail('payload.compression', 'must be "zstd"');
  for (const field of ['size', 'imageSize', 'chunkSize'] as const) {
    if (!Number.isSafeInteger(payload[field]) || (payload[field] as number) <= 0) fail(`payload.${field}`, 'must be a positive whole number');
  }
  for (const field of ['sha256', 'imageSha256'] as const) {
    if (typeof payload[field] !== 'string' || !HEX64.test(payload[field])) fail(`payload.${field}`, 'must be 64 lower-case hex digits');
  }
  const chunks = payload.chunks;
  if (!Array.isArray(chunks) || !chunks.every((c) => Number.isSafeInteger(c) && (c as number) > 0)) return fail('payload.chunks', 'must be a list of positive sizes');
  const imageSize = payload.imageSize as number;
  const chunkSize = payload.chunkSize as number;
  if (chunks.length !== Math.ceil(imageSize / chunkSize)) fail('payload.chunks', `must have one entry per ${chunkSize}-byte chunk of the image`);
  if ((chunks as number[]).reduce((a, b) => a + b, 0) !== payload.size) fail('payload.chunks', 'do not add up to payload.size');
  if ('index' in payload) {
    if ((m.format as number) < DELTA_MANIFEST_FORMAT) fail('payload.index', `needs format ${DELTA_MANIFEST_FORMAT}`);
    const index = payload.index;
    if (typeof index !== 'object' || index === null || Array.isArray(index)) return fail('payload.index', 'must be an object');
    const ix = index as Record<string, unknown>;
    const unknown = Object.keys(ix).find((key) => !['url', 'size', 'sha256'].includes(key));
    if (unknown !== undefined) fail(`payload.index.${unknown}`, `is not a field of format ${DELTA_MANIFEST_FORMAT}`);
    if (typeof ix.url !== 'string') fail('payload.index.url', 'must be a string');
    const indexUrlProblem = payloadUrlProblem(ix.url as string);
    if (indexUrlProblem !== null) fail(`payload.index.url ${JSON.stringify(ix.url)}`, indexUrlProblem);
    if (!Number.isSafeInteger(ix.size) || (ix.size as number) <= 0) fail('payload.index.size', 'must be a positive whole number');
    if (typeof ix.sha256 !== 'string' || !HEX64.test(ix.sha256)) fail('payload.index.sha256', 'must be 64 lower-case hex digits');
  }
  if ('rollout' in m) {
    // Format 1 readers ignore it: a document that older and newer agents would read differently is refused.
    if ((m.format as number) < ROLLOUT_MANIFEST_FORMAT) fail('rollout', `needs format ${ROLLOUT_MANIFEST_FORMAT}: an agent that reads format ${MANIFEST_FORMAT} ignores it and takes the release at once`);
    const problem = rolloutProblem(m.rollout);
    if (problem !== null) throw new ManifestError(`manifest from ${source}: ${problem}`);
  }
  if ('verity' in m) {
    if ((m.format as number) < VERITY_MANIFEST_FORMAT) fail('verity', `needs format ${VERITY_MANIFEST_FORMAT}: an agent that reads format ${m.format as number} ignores it and stages the slot without its root hash`);
    const problem = verityProblem(m.verity, imageSize);
    if (problem !== null) throw new ManifestError(`manifest from ${source}: ${problem}`);
  }
  return value as ReleaseManifest;
}

/** Dot-separated numbers, optionally "-pre.release" and "+build" (semver's shape, any number of parts). */
export function isVersion(text: string): boolean {
  return /^\d+(\.\d+)*(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(text);
}
