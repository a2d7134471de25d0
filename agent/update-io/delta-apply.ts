// The DeltaWriter on content-defined chunks: each chunk of the release is taken from the target slot
// (where a killed attempt left it), else from the booted slot (found by hash), else fetched with a
// bounded HTTP Range request; neighbouring fetches merge into one request. Every chunk is hashed
// before it is written, and the image's SHA-256 is returned as the full apply returns it. Progress
// is reported per whole payload group, so a rerun or the full download resumes from the same record.

import { createHash } from 'node:crypto';
import { zstdDecompressSync } from 'node:zlib';
import { UpdateError } from '../update/update-errors.ts';
import { ByteReader, readExactly } from './byte-reader.ts';
import { cutSlot, indexEntries, loadChunkCache, saveChunkCache } from './booted-chunks.ts';
import { commitEvery } from './payload-apply.ts';
import type { ChunkIndex, IndexedChunk } from '../../images/chunk-index.ts';
import type { PayloadDescription } from '../../images/release-manifest.ts';
import type { BlockDevice } from '../slots/block-device.ts';
import type { SlotName } from '../slots/boot-chooser.ts';
import type { DeltaWriter, PreparedDelta } from '../update/delta-writer.ts';
import type { WriteOptions } from '../update/payload-writer.ts';
import type { PayloadSource } from '../update/update-source.ts';

export interface ChunkDeltaSettings {
  /** Opens a slot for reading only: the booted slot is never opened writable here. */
  readonly openReadOnly: (slot: SlotName) => Promise<BlockDevice>;
  /** Where the booted slot's chunk map is cached (the state directory); null: never cached. */
  readonly cacheDir: string | null;
  readonly log: (fields: Record<string, unknown>, message: string) => void;
  /** Fetches separated by at most this many payload bytes are one request (the gap is fetched too). */
  readonly mergeGapBytes?: number;
  /** The gap is doubled until the requests are at most this many. */
  readonly maxRequests?: number;
}

/** 64 KiB: about one chunk, under the cost of a request's round trip on most links. */
const MERGE_GAP = 64 * 1024;
const MAX_REQUESTS = 64;

type Where = { readonly from: 'target' } | { readonly from: 'booted'; readonly offset: number } | { readonly from: 'fetch'; readonly span: number };

/** Chunks first..last (inclusive) fetched as one Range request. */
interface Span {
  readonly first: number;
  readonly last: number;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** How far into the booted slot to look: its image is about the size of the new one, rarely twice. */
function bootedScanBytes(booted: BlockDevice, payload: PayloadDescription): number {
  return Math.min(booted.size, 2 * payload.imageSize + payload.chunkSize);
}

/** Spans of the chunks that are missing, merged over gaps until there are at most `max` requests. */
export function fetchSpans(chunks: readonly IndexedChunk[], missing: readonly boolean[], gap: number, max: number): Span[] {
  const runs: Span[] = [];
  for (let i = 0; i < chunks.length; i++) {
    if (!missing[i]) continue;
    const prev = runs.at(-1);
    if (prev !== undefined && prev.last === i - 1) runs[runs.length - 1] = { first: prev.first, last: i };
    else runs.push({ first: i, last: i });
  }
  for (let limit = gap; ; limit = limit * 2 || 1) {
    const merged: Span[] = [];
    for (const run of runs) {
      const prev = merged.at(-1);
      const between = prev === undefined ? Infinity : (chunks[run.first]?.payloadOffset ?? 0) - ((chunks[prev.last]?.payloadOffset ?? 0) + (chunks[prev.last]?.payloadLength ?? 0));
      if (prev !== undefined && between <= limit) merged[merged.length - 1] = { first: prev.first, last: run.last };
      else merged.push(run);
    }
    if (merged.length <= max) return merged;
  }
}

export class ChunkDeltaWriter implements DeltaWriter {
  private readonly settings: ChunkDeltaSettings;

  constructor(settings: ChunkDeltaSettings) {
    this.settings = settings;
  }

  async prepare(input: Parameters<DeltaWriter['prepare']>[0]): Promise<PreparedDelta> {
    const { payload, index } = input;
    const inPlace = await this.readDevice(input.target, (target) => chunksInPlace(target, payload, index));
    const map = await this.bootedMap(input.booted, payload, index, input.bootedIndex);
    const where: (Where | null)[] = index.chunks.map((c, i) => {
      if (inPlace[i]) return { from: 'target' };
      const found = map.get(c.sha256);
      return found !== undefined && found[1] === c.length ? { from: 'booted', offset: found[0] } : null;
    });
    await this.readDevice(input.booted.slot, (booted) => findBesideFound(booted, index, where));
    const spans = fetchSpans(index.chunks, where.map((w) => w === null), this.settings.mergeGapBytes ?? MERGE_GAP, this.settings.maxRequests ?? MAX_REQUESTS);
    spans.forEach((span, s) => {
      for (let i = span.first; i <= span.last; i++) where[i] = { from: 'fetch', span: s };
    });
    const bytes = spans.reduce((sum, s) => sum + spanEnd(index, s) - spanStart(index, s), 0);
    const count = (from: Where['from']): number => index.chunks.reduce((sum, c, i) => sum + (where[i]?.from === from ? c.length : 0), 0);
    const reason = `${count('target')} image bytes already in ${input.target}, ${count('booted')} found in ${input.booted.slot}; ${count('fetch')} image bytes to fetch`;
    const plan = where as Where[];
    return {
      fetch: { path: 'delta', bytes, requests: spans.length, reason },
      write: (options) => this.write(options, input.booted.slot, index, plan, spans),
    };
  }

  async remember(slot: SlotName, version: string, payload: PayloadDescription, index: ChunkIndex): Promise<void> {
    if (this.settings.cacheDir === null) return;
    // A cache is an optimisation: failing to write it must not fail an update that worked.
    await saveChunkCache(this.settings.cacheDir, slot, version, index.chunking, payload.chunkSize, indexEntries(index)).catch((error: unknown) => {
      this.settings.log({ slot, error: String(error) }, 'could not cache the chunk index of the slot just written');
    });
  }

  private async readDevice<T>(slot: SlotName, use: (device: BlockDevice) => Promise<T>): Promise<T> {
    const device = await this.settings.openReadOnly(slot);
    try {
      return await use(device);
    } finally {
      await device.close();
    }
  }

  /**
   * Where the booted slot's chunks are: the state directory's cache, else the booted release's own
   * index from the server, else the slot cut here. Cutting is the slow way: the agent runs V8 in
   * lite mode (no JIT), where the gear hash goes at some 10 MB/s.
   */
  private async bootedMap(
    booted: { readonly slot: SlotName; readonly version: string },
    payload: PayloadDescription,
    index: ChunkIndex,
    bootedIndex: () => Promise<ChunkIndex | null>,
  ): Promise<Map<string, readonly [number, number]>> {
    const { cacheDir } = this.settings;
    const cached = cacheDir === null ? null : await loadChunkCache(cacheDir, booted.slot, booted.version, index.chunking, payload.chunkSize);
    if (cached !== null) return cached;
    const published = await bootedIndex();
    const entries = published !== null ? indexEntries(published) : await this.readDevice(booted.slot, (device) => cutSlot(device, bootedScanBytes(device, payload), index.chunking, payload.chunkSize));
    if (cacheDir !== null) {
      await saveChunkCache(cacheDir, booted.slot, booted.version, index.chunking, payload.chunkSize, entries).catch((error: unknown) => {
        this.settings.log({ slot: booted.slot, error: String(error) }, 'could not cache the chunk map of the booted slot');
      });
    }
    return new Map(entries.map(([offset, length, hash]) => [hash, [offset, length] as const]));
  }

  private async write(options: WriteOptions, bootedSlot: SlotName, index: ChunkIndex, where: readonly Where[], spans: readonly Span[]): Promise<string> {
    const { payload, slot } = options;
    if (payload.imageSize > slot.size) {
      throw new UpdateError('ERR_SLOT_TOO_SMALL', `image of ${payload.imageSize} bytes does not fit ${slot.path} (${slot.size} bytes)`);
    }
    const booted = where.some((w) => w.from === 'booted') ? await this.settings.openReadOnly(bootedSlot) : null;
    const fetcher = new SpanFetcher(options.source, index, spans, options.maxResumes, options.onResume);
    const hash = createHash('sha256');
    const commitBytes = options.commitBytes ?? commitEvery(payload);
    let unreported = 0;
    try {
      for (const [i, chunk] of index.chunks.entries()) {
        const w = where[i] as Where;
        let bytes: Uint8Array | null = null;
        if (w.from === 'target') bytes = await slot.read(chunk.imageOffset, chunk.length);
        else if (w.from === 'booted' && booted !== null) bytes = await booted.read(w.offset, chunk.length);
        const local = bytes !== null && sha256(bytes) === chunk.sha256;
        if (bytes !== null && !local) {
          // Changed since it was found (or the cache was stale): the network's copy instead.
          this.settings.log({ chunk: i, from: w.from, imageOffset: chunk.imageOffset }, 'a local chunk no longer matches its hash; fetching it');
        }
        if (!local) bytes = w.from === 'fetch' ? await fetcher.chunk(i, w.span) : await fetcher.single(i);
        if (w.from !== 'target' || !local) await slot.write(chunk.imageOffset, bytes as Uint8Array);
        hash.update(bytes as Uint8Array);
        unreported += chunk.length;
        const end = chunk.imageOffset + chunk.length;
        if (unreported >= commitBytes || end === payload.imageSize) {
          // As the full apply: on the disk before the record says so.
          await slot.sync();
          unreported = 0;
          const groups = end === payload.imageSize ? payload.chunks.length : Math.floor(end / payload.chunkSize);
          await options.onProgress(groups, fetcher.fetched);
        }
      }
    } finally {
      fetcher.close();
      await booted?.close();
    }
    await slot.sync();
    return hash.digest('hex');
  }
}

function spanStart(index: ChunkIndex, span: Span): number {
  return index.chunks[span.first]?.payloadOffset ?? 0;
}

function spanEnd(index: ChunkIndex, span: Span): number {
  const last = index.chunks[span.last];
  return last === undefined ? 0 : last.payloadOffset + last.payloadLength;
}

/**
 * Chunks next to ones found in the booted slot, looked for right beside them there. The publisher
 * ends a chunk at every group boundary, and after an insertion those boundaries fall elsewhere in
 * the content than in the booted image: such a piece is found by no hash of the booted slot's
 * cut, but its bytes are still where its neighbour's continue. Forward, then backward.
 */
async function findBesideFound(booted: BlockDevice, index: ChunkIndex, where: (Where | null)[]): Promise<void> {
  const tryAt = async (i: number, offset: number): Promise<void> => {
    const c = index.chunks[i] as IndexedChunk;
    if (offset < 0 || offset + c.length > booted.size) return;
    if (sha256(await booted.read(offset, c.length)) === c.sha256) where[i] = { from: 'booted', offset };
  };
  for (let i = 1; i < where.length; i++) {
    const prev = where[i - 1];
    if (where[i] === null && prev?.from === 'booted') await tryAt(i, prev.offset + (index.chunks[i - 1] as IndexedChunk).length);
  }
  for (let i = where.length - 2; i >= 0; i--) {
    const after = where[i + 1];
    if (where[i] === null && after?.from === 'booted') await tryAt(i, after.offset - (index.chunks[i] as IndexedChunk).length);
  }
}

/** Which chunks the target slot already holds at their place: what a killed attempt (or the slot's older image) left. */
async function chunksInPlace(target: BlockDevice, payload: PayloadDescription, index: ChunkIndex): Promise<boolean[]> {
  const found = index.chunks.map(() => false);
  if (payload.imageSize > target.size) return found;
  const buffer = new Uint8Array(Math.min(payload.chunkSize, payload.imageSize));
  let i = 0;
  for (let at = 0; at < payload.imageSize; at += payload.chunkSize) {
    const group = buffer.subarray(0, Math.min(payload.chunkSize, payload.imageSize - at));
    await target.readInto(at, group);
    for (let c = index.chunks[i]; c !== undefined && c.imageOffset < at + group.length; c = index.chunks[++i]) {
      found[i] = sha256(group.subarray(c.imageOffset - at, c.imageOffset - at + c.length)) === c.sha256;
    }
  }
  return found;
}

/** One Range request per span, read frame by frame in order; a broken one is resumed at the next chunk. */
class SpanFetcher {
  fetched = 0;
  private reader: ByteReader | null = null;
  private openSpan = -1;
  private resumes = 0;
  private readonly source: PayloadSource;
  private readonly index: ChunkIndex;
  private readonly spans: readonly Span[];
  private readonly maxResumes: number;
  private readonly onResume: WriteOptions['onResume'];

  constructor(source: PayloadSource, index: ChunkIndex, spans: readonly Span[], maxResumes: number, onResume: WriteOptions['onResume']) {
    this.source = source;
    this.index = index;
    this.spans = spans;
    this.maxResumes = maxResumes;
    this.onResume = onResume;
  }

  /** Chunk i of span s, in order: the span's request is opened at its first chunk. */
  async chunk(i: number, s: number): Promise<Uint8Array> {
    const span = this.spans[s] as Span;
    for (;;) {
      try {
        if (this.openSpan !== s || this.reader === null) await this.open(i, spanEnd(this.index, span), s);
        const bytes = await this.take(i);
        if (i === span.last) this.close();
        return bytes;
      } catch (error) {
        this.close();
        const resumable = error instanceof UpdateError && (error.code === 'ERR_HTTP' || error.code === 'ERR_HTTP_TIMEOUT');
        if (!resumable || ++this.resumes > this.maxResumes) throw error;
        const chunk = this.index.chunks[i] as IndexedChunk;
        this.onResume?.({ chunk: i, offset: chunk.payloadOffset, cause: error });
      }
    }
  }

  /** A chunk that was to come from this host but no longer matches: its frame alone. */
  async single(i: number): Promise<Uint8Array> {
    this.close();
    const chunk = this.index.chunks[i] as IndexedChunk;
    await this.open(i, chunk.payloadOffset + chunk.payloadLength, -1);
    try {
      return await this.take(i);
    } finally {
      this.close();
    }
  }

  close(): void {
    this.reader?.destroy();
    this.reader = null;
    this.openSpan = -1;
  }

  private async open(i: number, end: number, s: number): Promise<void> {
    const offset = (this.index.chunks[i] as IndexedChunk).payloadOffset;
    const { start, body } = await this.source.open(offset, end);
    if (start !== offset) {
      (body as { destroy?: () => void }).destroy?.();
      throw new UpdateError('ERR_RANGE_UNSUPPORTED', `asked for payload bytes ${offset}-${end - 1}, the server sent the payload from byte ${start}: it does not support Range requests`);
    }
    this.reader = new ByteReader(body);
    this.openSpan = s;
  }

  private async take(i: number): Promise<Uint8Array> {
    const chunk = this.index.chunks[i] as IndexedChunk;
    const frame = await readExactly(this.reader as ByteReader, chunk.payloadLength);
    if (frame === null) throw new UpdateError('ERR_HTTP', `payload connection ended within the frame of chunk ${i}`);
    this.fetched += frame.length;
    let bytes: Uint8Array;
    try {
      bytes = zstdDecompressSync(frame, { maxOutputLength: chunk.length });
    } catch (cause) {
      throw new UpdateError('ERR_PAYLOAD_CORRUPT', `payload is corrupt: the frame of chunk ${i} (payload bytes from ${chunk.payloadOffset}) does not decompress to at most ${chunk.length} bytes`, { cause });
    }
    const got = sha256(bytes);
    if (bytes.length !== chunk.length || got !== chunk.sha256) {
      throw new UpdateError('ERR_PAYLOAD_HASH_MISMATCH', `chunk ${i} (image bytes ${chunk.imageOffset}-${chunk.imageOffset + chunk.length - 1}) decompresses to ${bytes.length} bytes hashing to ${got}; the signed index says ${chunk.length} bytes hashing to ${chunk.sha256}`);
    }
    return bytes;
  }
}
