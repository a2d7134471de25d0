// Persists the update record: each file written to a temporary file, flushed, renamed over the old
// one, and the directory flushed, so a power cut leaves the old or the new file. The security floor
// (update-floor.ts) is also kept in a second small file, written before the record whenever it
// changes: a record that is torn, garbage or wrongly typed is set aside, saying so and naming the
// field, and the agent goes on from the floor copy; with both lost, the caller rebuilds the floor.

import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from '../../platform/durable-file.ts';
import { requireSafePath } from '../config/safe-path.ts';
import { checkFloor, checkRecord } from '../update/record-check.ts';
import { floorOf, recordFromFloor } from '../update/update-floor.ts';
import { INITIAL_RECORD } from '../update/update-state.ts';
import { UpdateError } from '../update/update-errors.ts';
import type { LoadedRecord, RecordStore } from '../update/record-store.ts';
import type { UpdateFloor } from '../update/update-floor.ts';
import type { UpdateRecord } from '../update/update-state.ts';

export const STATE_FILE = 'update-state.json';
export const FLOOR_FILE = 'update-floor.json';

/** The directory and the files another user could write are refused (ERR_UNSAFE_PERMISSIONS), before reading. */
export async function requireSafeState(dir: string): Promise<void> {
  await requireSafePath(dir, 'state directory');
  await requireSafePath(join(dir, STATE_FILE), 'state file');
  await requireSafePath(join(dir, FLOOR_FILE), 'state floor file');
}

type Read<T> = { readonly kind: 'absent' } | { readonly kind: 'read'; readonly value: T } | { readonly kind: 'unreadable'; readonly warning: string };

/** One file parsed and checked; an unreadable one is moved aside to `<name>.unreadable`. */
async function readChecked<T>(path: string, check: (value: unknown) => T): Promise<Read<T>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    throw new UpdateError('ERR_STATE_INVALID', `failed to read ${path}`, { cause });
  }
  try {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new UpdateError('ERR_STATE_INVALID', `not JSON: ${(cause as Error).message}`, { cause });
    }
    return { kind: 'read', value: check(parsed) };
  } catch (cause) {
    const aside = `${path}.unreadable`;
    await rename(path, aside);
    return { kind: 'unreadable', warning: `${path} was unreadable (${(cause as Error).message}); moved to ${aside}` };
  }
}

export async function loadRecord(dir: string): Promise<LoadedRecord> {
  const path = join(dir, STATE_FILE);
  const floorPath = join(dir, FLOOR_FILE);
  // A planted record or floor could lower the anti-replay floor or name a target: never read one others could write.
  await requireSafeState(dir);
  const record = await readChecked(path, checkRecord);
  if (record.kind === 'read') return { record: record.value, warning: null, floorLost: false };
  const floor = await readChecked(floorPath, checkFloor);
  const lost = record.kind === 'absent' ? `${path} is missing` : record.warning;
  if (floor.kind === 'read') {
    return { record: recordFromFloor(floor.value), warning: `${lost}; going on from ${floorPath} (highest accepted ${floor.value.highestAccepted ?? 'none'}, ${floor.value.skipped.length} skipped)`, floorLost: false };
  }
  if (record.kind === 'absent' && floor.kind === 'absent') return { record: INITIAL_RECORD, warning: null, floorLost: false };
  const floorWarning = floor.kind === 'absent' ? `${floorPath} is missing` : floor.warning;
  return { record: INITIAL_RECORD, warning: `${lost}; ${floorWarning}; starting afresh, the floor rebuilt from the running version`, floorLost: true };
}

export async function saveRecord(dir: string, record: UpdateRecord): Promise<void> {
  const path = join(dir, STATE_FILE);
  const floorPath = join(dir, FLOOR_FILE);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // The floor first: a cut between the two leaves the old record, whole, beside the new floor.
    const floor = floorText(floorOf(record));
    if ((await readFile(floorPath, 'utf8').catch(() => null)) !== floor) await writeFileDurably(floorPath, floor);
    await writeFileDurably(path, `${JSON.stringify(record, null, 2)}\n`);
  } catch (cause) {
    throw new UpdateError('ERR_STATE_WRITE', `failed to write ${path}`, { cause });
  }
}

function floorText(floor: UpdateFloor): string {
  return `${JSON.stringify({ schema: 1, ...floor }, null, 2)}\n`;
}


/** The RecordStore port on update-state.json and update-floor.json in `dir`. */
export class FileRecordStore implements RecordStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  load(): Promise<LoadedRecord> {
    return loadRecord(this.dir);
  }

  save(record: UpdateRecord): Promise<void> {
    return saveRecord(this.dir, record);
  }
}
