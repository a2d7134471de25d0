// The update policy's decisions, one per THREATS.md freshness and downgrade line.

import { describe, expect, it } from 'vitest';
import { decide } from './update-policy.ts';
import { advance, INITIAL_RECORD } from './update-state.ts';
import type { HostFacts, PolicyMemory } from './update-policy.ts';
import type { ReleaseManifest } from '../../images/release-manifest.ts';

const manifest = (version: string, overrides: Partial<ReleaseManifest> = {}): ReleaseManifest => ({
  format: 1,
  channel: 'stable',
  version,
  created: '2026-11-01T00:00:00.000Z',
  expires: '2026-12-01T00:00:00.000Z',
  arch: 'x86_64',
  board: 'qemu',
  payload: { url: 'p', compression: 'zstd', size: 1, sha256: '0'.repeat(64), imageSize: 1, imageSha256: '0'.repeat(64), chunkSize: 1, chunks: [1] },
  ...overrides,
});
const host: HostFacts = { channel: 'stable', arch: 'x86_64', board: 'qemu', bootedVersion: '1.0.0' };
const memory: PolicyMemory = { highestAccepted: '1.0.0', lastKnownTime: '2026-11-10T00:00:00.000Z', skipped: [], pinned: null };
const now = new Date('2026-11-15T00:00:00.000Z');

describe('decide', () => {
  it('installs a newer version', () => {
    expect(decide(manifest('1.0.1'), host, memory, now)).toMatchObject({ action: 'install', version: '1.0.1' });
    expect(decide(manifest('1.10.0'), { ...host, bootedVersion: '1.9.0' }, { ...memory, highestAccepted: '1.9.0' }, now).action).toBe('install');
  });
  it('does nothing for the running version', () => {
    expect(decide(manifest('1.0.0'), host, memory, now)).toMatchObject({ action: 'none', reason: '1.0.0 is running' });
  });
  it('refuses an older version than the running one', () => {
    expect(() => decide(manifest('0.9.0'), host, memory, now)).toThrow(expect.objectContaining({ code: 'ERR_DOWNGRADE_REFUSED' }));
  });
  it('refuses a version below the highest ever accepted (replay after a rollback)', () => {
    const rolledBack = { ...host, bootedVersion: '1.0.0' };
    expect(() => decide(manifest('1.0.1'), rolledBack, { ...memory, highestAccepted: '1.0.2' }, now)).toThrow(
      expect.objectContaining({ code: 'ERR_DOWNGRADE_REFUSED', message: expect.stringContaining('below 1.0.2') as unknown }),
    );
  });
  it('installs a pinned older version, and only that one', () => {
    const pinned = { ...memory, pinned: '0.9.0' };
    expect(decide(manifest('0.9.0'), host, pinned, now)).toMatchObject({ action: 'install' });
    expect(decide(manifest('1.0.1'), host, pinned, now)).toMatchObject({ action: 'none', reason: 'pinned to 0.9.0' });
  });
  it('after a pin to an older version and an unpin, refuses a replayed manifest between it and the highest accepted', () => {
    const stage = (record: typeof INITIAL_RECORD, version: string, slot: string): typeof INITIAL_RECORD => {
      let next = advance(record, { type: 'check-started' });
      next = advance(next, { type: 'update-found', target: { version, slot, manifestSha256: 'ab'.repeat(32) } });
      next = advance(next, { type: 'download-started', totalBytes: 1, chunksDone: 0, bytesDone: 0 });
      next = advance(advance(advance(next, { type: 'download-finished' }), { type: 'verified' }), { type: 'staged', at: '2026-11-10T00:00:00.000Z' });
      return advance(next, { type: 'booted', slot, version });
    };
    // Running 1.2.0 (accepted); the operator pins 1.0.0, which installs although it is older.
    let record = stage(INITIAL_RECORD, '1.2.0', 'USR-B');
    record = advance(record, { type: 'pin', version: '1.0.0' });
    expect(decide(manifest('1.0.0'), { ...host, bootedVersion: '1.2.0' }, record, now)).toMatchObject({ action: 'install' });
    record = advance(stage(record, '1.0.0', 'USR-A'), { type: 'pin', version: null });
    // Unpinned and running 1.0.0: the old, still valid 1.1.0 is a replay below 1.2.0; 1.2.0 itself may come back.
    const running = { ...host, bootedVersion: '1.0.0' };
    expect(() => decide(manifest('1.1.0'), running, record, now)).toThrow(
      expect.objectContaining({ code: 'ERR_DOWNGRADE_REFUSED', message: expect.stringContaining('below 1.2.0') as unknown }),
    );
    expect(decide(manifest('1.2.0'), running, record, now)).toMatchObject({ action: 'install' });
  });
  it('refuses an expired manifest', () => {
    expect(() => decide(manifest('1.0.1'), host, memory, new Date('2026-12-02T00:00:00.000Z'))).toThrow(
      expect.objectContaining({ code: 'ERR_MANIFEST_EXPIRED' }),
    );
  });
  it('refuses when the clock runs far behind the latest time seen (RTC reset)', () => {
    expect(() => decide(manifest('1.0.1'), host, memory, new Date('1970-01-02T00:00:00.000Z'))).toThrow(
      expect.objectContaining({ code: 'ERR_CLOCK_BEHIND' }),
    );
  });
  it('refuses another channel, arch or board', () => {
    expect(() => decide(manifest('1.0.1', { channel: 'beta' }), host, memory, now)).toThrow(expect.objectContaining({ code: 'ERR_MANIFEST_WRONG_CHANNEL' }));
    expect(() => decide(manifest('1.0.1', { arch: 'aarch64' }), host, memory, now)).toThrow(expect.objectContaining({ code: 'ERR_MANIFEST_WRONG_ARCH' }));
    expect(() => decide(manifest('1.0.1', { board: 'rpi4' }), host, memory, now)).toThrow(expect.objectContaining({ code: 'ERR_MANIFEST_WRONG_ARCH' }));
  });
  it('skips a version rolled back from, but installs a newer one', () => {
    const skipping = { ...memory, skipped: [{ version: '1.0.2', reason: 'rolled back from it' }] };
    expect(decide(manifest('1.0.2'), host, skipping, now)).toMatchObject({ action: 'none', reason: 'skipping 1.0.2: rolled back from it' });
    expect(decide(manifest('1.0.3'), host, skipping, now)).toMatchObject({ action: 'install' });
  });
});
