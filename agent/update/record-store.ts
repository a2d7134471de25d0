// The RecordStore port: where the update record survives restarts and power cuts (files in the
// state directory in production). A record that cannot be read is reported, not thrown.

import type { UpdateRecord } from './update-state.ts';

export interface LoadedRecord {
  readonly record: UpdateRecord;
  /** Set when the stored record was unreadable and a fresh one is returned instead. */
  readonly warning: string | null;
  /**
   * Set when the stored record and its floor copy were both unreadable: the caller, which knows the
   * running version, rebuilds the floor from it (update-floor.ts rebuildFloor).
   */
  readonly floorLost: boolean;
}

export interface RecordStore {
  load(): Promise<LoadedRecord>;
  /** Durable when it returns: the old or the new record survives a power cut, never a torn one. */
  save(record: UpdateRecord): Promise<void>;
}
