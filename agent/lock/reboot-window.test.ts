// Reboot windows against a table of instants: across midnight, across the week, in several zones,
// and on the days a DST change skips or repeats an hour.

import { describe, expect, it } from 'vitest';
import { nextOpening, openWindowAt, rebootWindows } from './reboot-window.ts';
import { parseGoDuration, parseLocksmithWindow } from '../../platform/locksmith-window.ts';
import { instantOf } from './zoned-time.ts';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();

describe('parsing', () => {
  it('reads Go durations as locksmith writes them', () => {
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('90m')).toBe(5_400_000);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('45s')).toBe(45_000);
  });
  it.each([
    ['Thx 23:00', '1h', 'names no weekday'],
    ['25:00', '1h', 'is not a time of day'],
    ['Thu', '1h', 'is not like "Thu 23:00"'],
    ['23:00', '1h30', 'is not a duration like 1h30m'],
    ['23:00', '0m', 'must be more than 0'],
    ['23:00', '200h', 'at most a week'],
  ])('refuses start %s length %s', (start, length, message) => {
    expect(() => parseLocksmithWindow(start, length)).toThrow(expect.objectContaining({ code: 'ERR_WINDOW_INVALID', message: expect.stringContaining(message) as unknown }));
  });
  it('refuses an unknown time zone', () => {
    expect(() => rebootWindows('Mars/Olympus_Mons', [])).toThrow(expect.objectContaining({ code: 'ERR_WINDOW_INVALID' }));
  });
});

describe('open or closed', () => {
  const daily = rebootWindows('UTC', [parseLocksmithWindow('23:00', '2h')]);
  const thursday = rebootWindows('UTC', [parseLocksmithWindow('Thu 23:00', '1h30m')]);
  const weekend = rebootWindows('Europe/Berlin', [parseLocksmithWindow('Sat 22:00', '4h'), parseLocksmithWindow('Sun 22:00', '4h')]);

  it.each([
    ['daily, before it opens', daily, '2026-11-24T22:59:00Z', false],
    ['daily, just opened', daily, '2026-11-24T23:00:00Z', true],
    ['daily, past midnight', daily, '2026-11-25T00:30:00Z', true],
    ['daily, closed at the end', daily, '2026-11-25T01:00:00Z', false],
    ['Thursday window on Thursday night', thursday, '2026-11-26T23:10:00Z', true],
    ['Thursday window after midnight (Friday)', thursday, '2026-11-27T00:29:00Z', true],
    ['Thursday window closed Friday', thursday, '2026-11-27T00:31:00Z', false],
    ['Thursday window on Wednesday night', thursday, '2026-11-25T23:10:00Z', false],
    ['weekend windows, Monday 01:00 Berlin', weekend, '2026-11-30T00:00:00Z', true],
    ['weekend windows, Monday 03:00 Berlin', weekend, '2026-11-30T02:00:00Z', false],
  ])('%s', (_name, config, now, open) => {
    expect(openWindowAt(config, at(now)) !== null).toBe(open);
  });

  it('is always open without windows', () => {
    expect(openWindowAt(rebootWindows('UTC', []), at('2026-11-24T12:00:00Z'))).not.toBeNull();
  });

  it('finds the next opening across the week', () => {
    expect(iso(nextOpening(thursday, at('2026-11-27T00:31:00Z')))).toBe('2026-12-03T23:00:00.000Z');
    expect(iso(nextOpening(daily, at('2026-11-25T12:00:00Z')))).toBe('2026-11-25T23:00:00.000Z');
    expect(nextOpening(daily, at('2026-11-25T00:00:00Z'))).toBe(at('2026-11-25T00:00:00Z'));
  });
});

describe('daylight saving time', () => {
  const berlin = (start: string, length: string) => rebootWindows('Europe/Berlin', [parseLocksmithWindow(start, length)]);

  it('reads a start time the spring change skips with the offset before it (02:30 -> 03:30 CEST)', () => {
    expect(iso(instantOf(2026, 3, 29, 2, 30, 'Europe/Berlin'))).toBe('2026-03-29T01:30:00.000Z');
    const window = berlin('02:30', '1h');
    expect(openWindowAt(window, at('2026-03-29T01:15:00Z'))).toBeNull();
    expect(openWindowAt(window, at('2026-03-29T01:45:00Z'))).toEqual({ start: at('2026-03-29T01:30:00Z'), end: at('2026-03-29T02:30:00Z') });
  });

  it('opens at the first of the two 02:30s on the autumn change', () => {
    expect(iso(instantOf(2026, 10, 25, 2, 30, 'Europe/Berlin'))).toBe('2026-10-25T00:30:00.000Z');
    const window = berlin('02:30', '30m');
    expect(openWindowAt(window, at('2026-10-25T00:45:00Z'))).not.toBeNull();
    expect(openWindowAt(window, at('2026-10-25T01:45:00Z'))).toBeNull();
  });

  it('measures the length in elapsed time across the change', () => {
    const window = berlin('01:00', '3h');
    expect(openWindowAt(window, at('2026-03-29T02:59:00Z'))).toEqual({ start: at('2026-03-29T00:00:00Z'), end: at('2026-03-29T03:00:00Z') });
  });

  it('keeps local wall time on the days after the change', () => {
    const window = berlin('Sun 04:00', '1h');
    expect(iso(nextOpening(window, at('2026-03-23T00:00:00Z')))).toBe('2026-03-29T02:00:00.000Z');
    expect(iso(nextOpening(window, at('2026-03-30T00:00:00Z')))).toBe('2026-04-05T02:00:00.000Z');
    expect(iso(nextOpening(window, at('2026-03-16T00:00:00Z')))).toBe('2026-03-22T03:00:00.000Z');
  });

  it('works in other zones (New York)', () => {
    const window = rebootWindows('America/New_York', [parseLocksmithWindow('23:00', '2h')]);
    expect(iso(nextOpening(window, at('2026-07-01T12:00:00Z')))).toBe('2026-07-02T03:00:00.000Z');
    expect(iso(nextOpening(window, at('2026-12-01T12:00:00Z')))).toBe('2026-12-02T04:00:00.000Z');
  });
});
