// Persists the update record: written to a temporary file, flushed, renamed over the old one, and
// the directory flushed, so a power cut leaves the old or the new record. An unreadable record is
// set aside and the agent starts afresh from the boot flags, saying so.

import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { requireSafePath } from '../config/safe-path.ts';
import { INITIAL_RECORD, UPDATE_STATUSES } from '../update/update-state.ts';
import { UpdateError } from '../update/update-errors.ts';
import type { LoadedRecord, RecordStore } from '../update/record-store.ts';
import type { UpdateRecord } from '../update/update-state.ts';

export const STATE_FILE = 'update-state.json';

/** The directory and the file another user could write are refused (ERR_UNSAFE_PERMISSIONS), before reading. */
export async function requireSafeState(dir: string): Promise<void> {
  await requireSafePath(dir, 'state directory');
  await requireSafePath(join(dir, STATE_FILE), 'state file');
}

export async function loadRecord(dir: string): Promise<LoadedRecord> {
  const path = join(dir, STATE_FILE);
  // A planted record could lower the anti-replay floor or name a target: never read one others could write.
  await requireSafeState(dir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return { record: INITIAL_RECORD, warning: null };
    throw new UpdateError('ERR_STATE_INVALID', `failed to read ${path}`, { cause });
  }
  try {
    const parsed = JSON.parse(text) as Partial<UpdateRecord>;
    if (parsed.schema !== 1 || !UPDATE_STATUSES.includes(parsed.status as UpdateRecord['status'])) throw new UpdateError('ERR_STATE_INVALID', 'unknown schema or status');
    return { record: { ...INITIAL_RECORD, ...parsed }, warning: null };
  } catch (cause) {
    const aside = `${path}.unreadable`;
    await rename(path, aside);
    return { record: INITIAL_RECORD, warning: `${path} was unreadable (${(cause as Error).message}); moved to ${aside} and starting afresh` };
  }
}

export async function saveRecord(dir: string, record: UpdateRecord): Promise<void> {
  const path = join(dir, STATE_FILE);
  try {
    await writeDurably(dir, path, record);
  } catch (cause) {
    throw new UpdateError('ERR_STATE_WRITE', `failed to write ${path}`, { cause });
  }
}

async function writeDurably(dir: string, path: string, record: UpdateRecord): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${path}.tmp`;
  const file = await open(temp, 'w', 0o600);
  try {
    await file.writeFile(`${JSON.stringify(record, null, 2)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  const directory = await open(dir, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** The RecordStore port on update-state.json in `dir`. */
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
