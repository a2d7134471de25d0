// checkTimeZone's quick paths (UTC, the zones ICU lists) accept and refuse exactly what building a
// formatter does.

import { describe, expect, it } from 'vitest';
import { checkTimeZone, localTime } from './zoned-time.ts';

const formatterAccepts = (timeZone: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
};

describe('checkTimeZone', () => {
  it.each(['UTC', 'Europe/Berlin', 'America/Los_Angeles', 'Asia/Calcutta', 'US/Eastern', 'Etc/UTC', 'europe/berlin', 'GMT', '+01:00'])('accepts %s as a formatter does', (zone) => {
    expect(formatterAccepts(zone)).toBe(true);
    expect(() => checkTimeZone(zone)).not.toThrow();
  });

  it.each(['Mars/Olympus_Mons', 'Europe/Berlinn', '', 'Z'])('refuses %j with a RangeError as a formatter does', (zone) => {
    expect(formatterAccepts(zone)).toBe(false);
    expect(() => checkTimeZone(zone)).toThrow(RangeError);
  });

  it('accepts every zone ICU lists, and local times in one come out right after the quick check', () => {
    const listed = Intl.supportedValuesOf('timeZone');
    for (const zone of listed) checkTimeZone(zone);
    expect(listed.length).toBeGreaterThan(300);
    checkTimeZone('Asia/Kathmandu');
    expect(localTime(Date.UTC(2024, 0, 1, 0, 0), 'Asia/Kathmandu')).toMatchObject({ year: 2024, month: 1, day: 1, hour: 5, minute: 45 });
  });
});
