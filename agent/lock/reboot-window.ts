// Reboot windows: several weekly windows in one time zone (or every day), each a local start time
// and a length. locksmith's `window_start` ("Thu 23:00" or "23:00") and `window_length` ("1h30m")
// are accepted. A window may run past midnight; starts and lengths follow the zone's DST changes.
// Pure: the caller passes the instant.

import { LockError } from './lock-errors.ts';
import { checkTimeZone, instantOf, localTime } from './zoned-time.ts';
import type { WeeklyWindow } from '../../platform/locksmith-window.ts';

export interface RebootWindows {
  readonly timeZone: string;
  /** Empty means "any time". */
  readonly windows: readonly WeeklyWindow[];
}

export function rebootWindows(timeZone: string, windows: readonly WeeklyWindow[]): RebootWindows {
  try {
    checkTimeZone(timeZone);
  } catch (cause) {
    throw new LockError('ERR_WINDOW_INVALID', `"${timeZone}" is not a time zone this system knows`, { cause });
  }
  return { timeZone, windows };
}

/** Starts of `window` on the local days from `fromDay` days before `now` to `toDay` days after. */
function startsAround(window: WeeklyWindow, timeZone: string, now: number, fromDay: number, toDay: number): number[] {
  const starts: number[] = [];
  for (let offset = fromDay; offset <= toDay; offset++) {
    // Noon avoids landing on the wrong local date near midnight or a DST change.
    const today = localTime(now, timeZone);
    const noon = instantOf(today.year, today.month, today.day, 12, 0, timeZone) + offset * 86_400_000;
    const day = localTime(noon, timeZone);
    if (window.weekday !== null && day.weekday !== window.weekday) continue;
    starts.push(instantOf(day.year, day.month, day.day, window.hour, window.minute, timeZone));
  }
  return starts;
}

/** The open window containing `now` as [start, end), or null. */
export function openWindowAt(config: RebootWindows, now: number): { start: number; end: number } | null {
  if (config.windows.length === 0) return { start: now, end: Number.POSITIVE_INFINITY };
  let best: { start: number; end: number } | null = null;
  for (const window of config.windows) {
    for (const start of startsAround(window, config.timeZone, now, -8, 0)) {
      const end = start + window.lengthMs;
      if (start <= now && now < end && (best === null || end > best.end)) best = { start, end };
    }
  }
  return best;
}

/** `now` when a window is open, otherwise the next instant one opens. */
export function nextOpening(config: RebootWindows, now: number): number {
  if (openWindowAt(config, now)) return now;
  const upcoming = config.windows.flatMap((window) => startsAround(window, config.timeZone, now, 0, 8)).filter((start) => start > now);
  return Math.min(...upcoming);
}
