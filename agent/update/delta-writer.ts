// The DeltaWriter port: writes a release into the inactive slot from the chunks this host already
// has (the booted slot, what an earlier attempt left in the target) and fetches only the rest. The
// update path decides whether a delta is taken; the adapter (update-io/delta-apply.ts) knows where
// chunks are found and how they are fetched.

import type { ChunkIndex } from '../../images/chunk-index.ts';
import type { PayloadDescription } from '../../images/release-manifest.ts';
import type { SlotName } from '../slots/boot-chooser.ts';
import type { WriteOptions } from './payload-writer.ts';

/** What the next write will download, as `slipway plan` and the agent's log say it. */
export interface FetchPlan {
  readonly path: 'delta' | 'full';
  /** Payload bytes to download (compressed, over HTTP). */
  readonly bytes: number;
  /** HTTP requests for the payload (Range requests for a delta). */
  readonly requests: number;
  /** Why this path: what was found locally, or why no delta could be taken. */
  readonly reason: string;
}

export interface PreparedDelta {
  readonly fetch: FetchPlan & { readonly path: 'delta' };
  /** Writes the image (the found chunks copied, the rest fetched); resolves with its SHA-256. */
  write(options: WriteOptions): Promise<string>;
}

export interface DeltaWriter {
  /** Finds which chunks of the release are already on this host, reading both slots but writing nothing. */
  prepare(input: {
    readonly payload: PayloadDescription;
    readonly index: ChunkIndex;
    readonly booted: { readonly slot: SlotName; readonly version: string };
    readonly target: SlotName;
    /**
     * The booted release's own chunk index from the server, when there is one: where the booted
     * slot's chunks are without cutting it. A hint only (not signed here): every chunk is hashed before use.
     */
    readonly bootedIndex: () => Promise<ChunkIndex | null>;
  }): Promise<PreparedDelta>;
  /** After a slot was written and verified: its chunks, so the next update need not cut it again once it boots. */
  remember(slot: SlotName, version: string, payload: PayloadDescription, index: ChunkIndex): Promise<void>;
}
