// locksmith's reboot window format: window_start ("Thu 23:00" or "23:00") and window_length (a Go
// duration, "1h30m"). Read by the agent's settings and by cloud-config's validator, so it lives below both.

import { CodedError } from './coded-error.ts';

export class WindowFormatError extends CodedError<'ERR_WINDOW_INVALID'> {
  override name = 'WindowFormatError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_WINDOW_INVALID', message, options);
  }
}

export interface WeeklyWindow {
  /** 0 = Sunday … 6 = Saturday; null for every day. */
  readonly weekday: number | null;
  readonly hour: number;
  readonly minute: number;
  readonly lengthMs: number;
}

const DAYS: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

/** Go's time.ParseDuration for the units a window needs: "1h30m", "90m", "45s", "2h". */
export function parseGoDuration(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (text === '' || parts.map((p) => p[0]).join('') !== text) {
    throw new WindowFormatError(`"${text}" is not a duration like 1h30m`);
  }
  return parts.reduce((sum, [, value, unit]) => sum + Number(value) * (units[unit ?? ''] ?? 0), 0);
}

/** locksmith's window_start ("Thu 23:00", "thu 23:00" or "23:00") and window_length. */
export function parseLocksmithWindow(start: string, length: string): WeeklyWindow {
  const match = /^(?:([A-Za-z]{3})\s+)?(\d{1,2}):(\d{2})$/.exec(start.trim());
  if (!match) throw new WindowFormatError(`window start "${start}" is not like "Thu 23:00" or "23:00"`);
  const [, day, hh, mm] = match;
  const weekday = day === undefined ? null : DAYS[day.toLowerCase()];
  if (weekday === undefined) throw new WindowFormatError(`window start "${start}" names no weekday (Sun … Sat)`);
  const hour = Number(hh);
  const minute = Number(mm);
  if (hour > 23 || minute > 59) throw new WindowFormatError(`window start "${start}" is not a time of day`);
  const lengthMs = parseGoDuration(length);
  if (lengthMs <= 0 || lengthMs > 7 * 86_400_000) throw new WindowFormatError(`window length "${length}" must be more than 0 and at most a week`);
  return { weekday, hour, minute, lengthMs };
}

