// The persisted update record: written by temp + fsync + rename, its security floor in a second file;
// a torn, garbage or wrongly typed record is set aside with a warning naming the problem, and the
// floor (highest accepted, skipped versions, newest signed time) survives it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FLOOR_FILE, loadRecord, saveRecord, STATE_FILE } from '../../agent/update-io/state-file.ts';
import { advance, INITIAL_RECORD } from '../../agent/update/update-state.ts';
import { tempDir } from '../builders/coreos-disk.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import type { UpdateRecord } from '../../agent/update/update-state.ts';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

describe('the update state file', () => {
  it('round-trips a record and leaves no temporary file behind', async () => {
    const state = join(dir.path, 'a');
    const record = advance(INITIAL_RECORD, { type: 'check-started' });
    await saveRecord(state, record);
    expect((await loadRecord(state)).record).toEqual(record);
    expect((await readdir(state)).sort()).toEqual([FLOOR_FILE, STATE_FILE]);
  });

  it('starts afresh when there is no file yet', async () => {
    expect(await loadRecord(join(dir.path, 'absent'))).toEqual({ record: INITIAL_RECORD, warning: null, floorLost: false });
  });

  it.each([
    ['a torn write', (text: string) => text.slice(0, text.length / 2)],
    ['garbage', () => '\u0000\u0000\u0000'],
    ['an unknown status', (text: string) => text.replace('"checking"', '"exploding"')],
  ])('sets %s aside with a warning and starts from the initial record', async (name, damage) => {
    const state = join(dir.path, name.replaceAll(' ', '-'));
    await saveRecord(state, advance(INITIAL_RECORD, { type: 'check-started' }));
    const path = join(state, STATE_FILE);
    await writeFile(path, damage(await readFile(path, 'utf8')));
    const loaded = await loadRecord(state);
    expect(loaded.record).toEqual(INITIAL_RECORD);
    expect(loaded.warning).toContain(`${path} was unreadable`);
    expect(await readdir(state)).toContain(`${STATE_FILE}.unreadable`);
  });
});

/** 1.0.2 accepted and staged, then rolled back from (skipped); 1.0.1 failed once; a signed time seen. */
function history(): UpdateRecord {
  let record = advance({ ...INITIAL_RECORD, lastKnownTime: '2026-11-20T00:00:00.000Z', lastKnownTimeAt: '2026-11-20T01:00:00.000Z', failures: { '1.0.1': 1 } }, { type: 'check-started' });
  record = advance(record, { type: 'update-found', target: { version: '1.0.2', slot: 'USR-B', manifestSha256: 'ab'.repeat(32) } });
  record = advance(record, { type: 'download-started', totalBytes: 1, chunksDone: 0, bytesDone: 0 });
  record = advance(advance(advance(record, { type: 'download-finished' }), { type: 'verified' }), { type: 'staged', at: '2026-11-22T00:00:00.000Z' });
  return advance(record, { type: 'boot-failed', reason: 'failed its health gate', at: '2026-11-22T01:00:00.000Z' });
}

describe('the floor of a damaged state file', () => {
  const FLOOR = { highestAccepted: '1.0.2', lastKnownTime: '2026-11-20T00:00:00.000Z', lastKnownTimeAt: '2026-11-20T01:00:00.000Z', skipped: [{ version: '1.0.2', reason: 'failed its health gate' }], failures: { '1.0.1': 1, '1.0.2': 1 } };
  const retype = (field: string, value: unknown) => (text: string): string => JSON.stringify({ ...(JSON.parse(text) as object), [field]: value });

  it.each([
    ['torn mid-JSON', (text: string) => text.slice(0, 70), 'not JSON: '],
    ['garbage', () => '\u0000\u0000', 'not JSON: '],
    ['a number as highestAccepted', retype('highestAccepted', 5), 'record.highestAccepted must be a version, not 5'],
    ['a string as the skipped list', retype('skipped', 'x'), 'record.skipped must be a list, not "x"'],
    ['a skipped entry without its reason', retype('skipped', [{ version: '1.0.2' }]), 'record.skipped[0].reason is missing'],
    ['an unknown status', retype('status', 'exploding'), 'record.status must be one of idle, checking'],
    ['a string as the progress', retype('progress', 'half'), 'record.progress must be an object, not "half"'],
    ['a list as the failures', retype('failures', []), 'record.failures must be an object, not a list'],
  ])('a record %s: set aside naming the problem, the floor kept from the second file', async (name, damage, problem) => {
    const state = join(dir.path, `floor-${name.replaceAll(' ', '-')}`);
    await saveRecord(state, history());
    const path = join(state, STATE_FILE);
    await writeFile(path, damage(await readFile(path, 'utf8')));
    const loaded = await loadRecord(state);
    expect(loaded.warning).toContain(`${path} was unreadable (`);
    expect(loaded.warning).toContain(problem);
    expect(loaded.warning).toContain(`going on from ${join(state, FLOOR_FILE)}`);
    expect(loaded.floorLost).toBe(false);
    expect(loaded.record).toMatchObject({ ...FLOOR, status: 'idle', target: null, progress: null });
    expect(await readdir(state)).toContain(`${STATE_FILE}.unreadable`);
  });

  it('both copies unreadable: starts afresh and says the floor is lost, for the caller to rebuild from the running version', async () => {
    const state = join(dir.path, 'floor-both');
    await saveRecord(state, history());
    await writeFile(join(state, STATE_FILE), '{"schema":1,');
    await writeFile(join(state, FLOOR_FILE), JSON.stringify({ schema: 1, highestAccepted: 7 }));
    const loaded = await loadRecord(state);
    expect(loaded).toMatchObject({ record: INITIAL_RECORD, floorLost: true });
    expect(loaded.warning).toContain('floor.highestAccepted must be a version, not 7');
  });

  it('a whole record wins over a damaged floor copy, which the next save writes again', async () => {
    const state = join(dir.path, 'floor-only');
    await saveRecord(state, history());
    await writeFile(join(state, FLOOR_FILE), 'garbage');
    const loaded = await loadRecord(state);
    expect(loaded).toEqual({ record: history(), warning: null, floorLost: false });
    await saveRecord(state, loaded.record);
    await writeFile(join(state, STATE_FILE), 'torn');
    expect((await loadRecord(state)).record).toMatchObject(FLOOR);
  });

  it('keeps fields of a record written before they existed at their initial values', async () => {
    const state = join(dir.path, 'floor-old');
    await saveRecord(state, INITIAL_RECORD);
    await writeFile(join(state, STATE_FILE), JSON.stringify({ schema: 1, status: 'idle', highestAccepted: '1.0.1', extra: true }));
    expect(await loadRecord(state)).toEqual({ record: { ...INITIAL_RECORD, highestAccepted: '1.0.1' }, warning: null, floorLost: false });
  });
});

describe('the state machine', () => {
  it('walks update_engine states and keeps what must be remembered', () => {
    let record = INITIAL_RECORD;
    const target = { version: '1.0.1', slot: 'USR-B', manifestSha256: 'a'.repeat(64) };
    for (const event of [
      { type: 'check-started' },
      { type: 'update-found', target },
      { type: 'download-started', totalBytes: 100, chunksDone: 0, bytesDone: 0 },
      { type: 'progress', chunksDone: 1, bytesDone: 50 },
      { type: 'download-finished' },
      { type: 'verified' },
      { type: 'staged', at: '2026-11-22T00:00:00.000Z' },
    ] as const) {
      record = advance(record, event);
    }
    expect(record).toMatchObject({ status: 'updated-need-reboot', highestAccepted: '1.0.1', progress: { chunksDone: 1, bytesDone: 50, totalBytes: 100 } });
  });

  it('refuses a transition the machine does not have', () => {
    expect(() => advance(INITIAL_RECORD, { type: 'verified' })).toThrow('"verified" is not allowed in state "idle"');
  });

  it('skips a version after it was charged three failures, until a newer one appears', () => {
    let record = INITIAL_RECORD;
    const target = { version: '1.0.2', slot: 'USR-B', manifestSha256: 'b'.repeat(64) };
    for (let i = 0; i < 3; i++) {
      record = advance(advance(advance(record, { type: 'check-started' }), { type: 'update-found', target }), { type: 'failed', code: 'ERR_SIGNATURE_INVALID', message: 'x', at: 't', charge: '1.0.2' });
      record = advance(record, { type: 'error-reported' });
    }
    expect(record.failures).toEqual({ '1.0.2': 3 });
    expect(record.skipped).toEqual([{ version: '1.0.2', reason: 'failed 3 times, last with ERR_SIGNATURE_INVALID' }]);
  });

  it('charges nothing for a failure that is not the release\'s, even with an earlier target in the record', () => {
    let record = INITIAL_RECORD;
    const target = { version: '1.0.2', slot: 'USR-B', manifestSha256: 'b'.repeat(64) };
    record = advance(advance(advance(record, { type: 'check-started' }), { type: 'update-found', target }), { type: 'download-started', totalBytes: 10, chunksDone: 0, bytesDone: 0 });
    for (let i = 0; i < 5; i++) {
      record = advance(advance(record, { type: 'check-started' }), { type: 'failed', code: 'ERR_HTTP', message: 'refused', at: 't', charge: null });
      record = advance(record, { type: 'error-reported' });
    }
    expect(record).toMatchObject({ failures: {}, skipped: [], target, lastError: { code: 'ERR_HTTP' } });
  });

  it('unskips a version: off the list and its count back to zero, other versions kept', () => {
    const record = { ...INITIAL_RECORD, failures: { '1.0.2': 3, '1.0.3': 1 }, skipped: [{ version: '1.0.2', reason: 'failed 3 times' }, { version: '1.0.4', reason: 'rolled back' }] };
    expect(advance(record, { type: 'unskip', version: '1.0.2' })).toMatchObject({ failures: { '1.0.3': 1 }, skipped: [{ version: '1.0.4', reason: 'rolled back' }] });
  });

  it('resumes the same release after a restart, but not a different one', () => {
    const target = { version: '1.0.1', slot: 'USR-B', manifestSha256: 'c'.repeat(64) };
    let record = advance(advance(INITIAL_RECORD, { type: 'check-started' }), { type: 'update-found', target });
    record = advance(advance(record, { type: 'download-started', totalBytes: 10, chunksDone: 0, bytesDone: 0 }), { type: 'progress', chunksDone: 4, bytesDone: 4 });
    const restarted = advance(advance(record, { type: 'check-started' }), { type: 'update-found', target });
    expect(restarted.progress?.chunksDone).toBe(4);
    const other = advance(advance(record, { type: 'check-started' }), { type: 'update-found', target: { ...target, manifestSha256: 'd'.repeat(64) } });
    expect(other.progress).toBeNull();
  });
});
