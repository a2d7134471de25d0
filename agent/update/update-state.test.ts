// The record's bookkeeping around reboots, pins and skips: what a staged update leaves once its slot
// runs, what a failed boot leaves, and that a download cut by a reboot is kept for its resume.

import { describe, expect, it } from 'vitest';
import { advance, INITIAL_RECORD } from './update-state.ts';
import type { UpdateRecord } from './update-state.ts';

const AT = '2026-11-22T12:00:00.000Z';
const target = { version: '1.0.1', slot: 'USR-B', manifestSha256: 'ab'.repeat(32) };

function staged(): UpdateRecord {
  let record = advance({ ...INITIAL_RECORD, slotVersions: { 'USR-A': '1.0.0', 'USR-B': '0.9.0' } }, { type: 'check-started' });
  record = advance(record, { type: 'update-found', target });
  record = advance(record, { type: 'download-started', totalBytes: 10, chunksDone: 0, bytesDone: 0 });
  expect(record.slotVersions).toEqual({ 'USR-A': '1.0.0' });
  record = advance(record, { type: 'download-finished' });
  record = advance(record, { type: 'verified' });
  return advance(record, { type: 'staged', at: AT });
}

describe('update record around reboots', () => {
  it('records the staged version in its slot, and finishes the update once that slot runs', () => {
    const record = staged();
    expect(record.slotVersions).toEqual({ 'USR-A': '1.0.0', 'USR-B': '1.0.1' });
    const before = advance(record, { type: 'booted', slot: 'USR-A', version: '1.0.0' });
    expect(before.status).toBe('updated-need-reboot');
    const after = advance(record, { type: 'booted', slot: 'USR-B', version: '1.0.1' });
    expect(after).toMatchObject({ status: 'idle', target: null, progress: null, slotVersions: { 'USR-A': '1.0.0', 'USR-B': '1.0.1' } });
  });

  it('keeps a download cut by a reboot, so it resumes', () => {
    let record = advance(INITIAL_RECORD, { type: 'check-started' });
    record = advance(record, { type: 'update-found', target });
    record = advance(record, { type: 'download-started', totalBytes: 10, chunksDone: 3, bytesDone: 0 });
    const rebooted = advance(record, { type: 'booted', slot: 'USR-A', version: '1.0.0' });
    expect(rebooted).toMatchObject({ status: 'downloading', target, progress: { chunksDone: 3 } });
  });

  it('skips a version whose boot failed, forgets its slot, and only from the staged state', () => {
    const failed = advance(staged(), { type: 'boot-failed', reason: 'failed its health gate', at: AT });
    expect(failed).toMatchObject({ status: 'idle', target: null, skipped: [{ version: '1.0.1', reason: 'failed its health gate' }], failures: { '1.0.1': 1 }, slotVersions: { 'USR-A': '1.0.0' } });
    expect(() => advance(INITIAL_RECORD, { type: 'boot-failed', reason: 'x', at: AT })).toThrow('"boot-failed" is not allowed in state "idle"');
  });

  it('pins and unpins in any state, and skips a version once', () => {
    expect(advance(staged(), { type: 'pin', version: '1.0.1' })).toMatchObject({ pinned: '1.0.1', status: 'updated-need-reboot', target });
    expect(advance({ ...INITIAL_RECORD, pinned: '1.0.0' }, { type: 'pin', version: null }).pinned).toBeNull();
    expect(advance(staged(), { type: 'pin', version: null })).toMatchObject({ pinned: null, status: 'updated-need-reboot', target });
    const once = advance(INITIAL_RECORD, { type: 'skip', version: '1.0.2', reason: 'rolled back by an operator' });
    expect(advance(once, { type: 'skip', version: '1.0.2', reason: 'again' }).skipped).toEqual([{ version: '1.0.2', reason: 'rolled back by an operator' }]);
    expect(once.failures).toEqual({});
    // A failed health gate is the release's fault: counted as well as skipped.
    expect(advance(INITIAL_RECORD, { type: 'skip', version: '1.0.2', reason: 'failed its health gate: x', charged: true })).toMatchObject({ failures: { '1.0.2': 1 }, skipped: [{ version: '1.0.2' }] });
  });

  it('keeps the highest version accepted when a pin installs an older one', () => {
    // 1.0.1 staged and accepted; the operator pins 1.0.0 and it is staged into the other slot.
    let record = advance(staged(), { type: 'booted', slot: 'USR-B', version: '1.0.1' });
    record = advance(record, { type: 'pin', version: '1.0.0' });
    record = advance(record, { type: 'check-started' });
    record = advance(record, { type: 'update-found', target: { version: '1.0.0', slot: 'USR-A', manifestSha256: 'cd'.repeat(32) } });
    record = advance(record, { type: 'download-started', totalBytes: 10, chunksDone: 0, bytesDone: 0 });
    record = advance(record, { type: 'download-finished' });
    record = advance(record, { type: 'verified' });
    record = advance(record, { type: 'staged', at: AT });
    expect(record).toMatchObject({ status: 'updated-need-reboot', pinned: '1.0.0', highestAccepted: '1.0.1', slotVersions: { 'USR-A': '1.0.0' } });
    record = advance(advance(record, { type: 'booted', slot: 'USR-A', version: '1.0.0' }), { type: 'pin', version: null });
    expect(record).toMatchObject({ status: 'idle', pinned: null, highestAccepted: '1.0.1' });
  });

  it('unstages an update when pinned to another version, keeping what the slot holds', () => {
    const pinned = advance(staged(), { type: 'pin', version: '1.0.0' });
    expect(pinned).toMatchObject({ pinned: '1.0.0', status: 'idle', target: null, progress: null, slotVersions: { 'USR-A': '1.0.0', 'USR-B': '1.0.1' } });
  });
});

describe('the anti-replay floor', () => {
  const found = (record: UpdateRecord, version: string): UpdateRecord =>
    advance(advance(record, { type: 'check-started' }), { type: 'update-found', target: { version, slot: 'USR-B', manifestSha256: 'ef'.repeat(32) } });

  it('rises as soon as a verified release is taken, before its download; a failure and a skip keep it', () => {
    let record = found({ ...INITIAL_RECORD, highestAccepted: '1.0.1' }, '1.0.2');
    expect(record.highestAccepted).toBe('1.0.2');
    for (let i = 0; i < 3; i++) {
      record = advance(advance(record, { type: 'failed', code: 'ERR_PAYLOAD_TOO_LARGE', message: 'x', at: AT, charge: '1.0.2' }), { type: 'error-reported' });
      if (i < 2) record = found(record, '1.0.2');
    }
    expect(record).toMatchObject({ highestAccepted: '1.0.2', skipped: [{ version: '1.0.2' }] });
    // Never lowered by an older release taken later (a pin is the only way there).
    expect(found({ ...INITIAL_RECORD, highestAccepted: '1.0.3' }, '1.0.2').highestAccepted).toBe('1.0.3');
  });

  it('does not move for a pinned host until the pinned release is staged', () => {
    const pinned = found({ ...INITIAL_RECORD, pinned: '1.0.5', highestAccepted: '1.0.1' }, '1.0.5');
    expect(pinned.highestAccepted).toBe('1.0.1');
  });
});
