// Wall-clock time in an IANA time zone, from the runtime's time-zone database (Intl): the local
// date and time of an instant, and the instant of a local date and time, with Go's rule for local
// times that a DST change skips (the offset before the change applies) or repeats (the first).

export interface LocalTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  /** 0 = Sunday … 6 = Saturday. */
  readonly weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = formatters.get(timeZone);
  if (!found) {
    found = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, found);
  }
  return found;
}

let listedZones: ReadonlySet<string> | null = null;

/**
 * Throws a RangeError for a zone the runtime does not know. Every agent start checks its zone, and
 * building a formatter costs 12 ms of CPU here and 0.3 s in a VM under TCG (ICU's date patterns), so
 * UTC and the zones ICU lists by name pass without one (2 ms); other spellings it accepts (aliases
 * like US/Eastern, another case, offsets) are checked by building the formatter, kept for later.
 */
export function checkTimeZone(timeZone: string): void {
  if (timeZone === 'UTC') return;
  listedZones ??= new Set(Intl.supportedValuesOf('timeZone'));
  if (!listedZones.has(timeZone)) formatter(timeZone);
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

export function localTime(instant: number, timeZone: string): LocalTime & { readonly second: number } {
  const parts = Object.fromEntries(formatter(timeZone).formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: WEEKDAYS.indexOf(parts.weekday ?? ''),
  };
}

/** Milliseconds the zone is ahead of UTC at `instant`. */
export function offsetAt(instant: number, timeZone: string): number {
  const t = localTime(instant, timeZone);
  const asUtc = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}

/**
 * The instant of a local date and time. In a repeated hour the first occurrence wins; a time in a
 * skipped hour is read with the offset before the change (02:30 becomes 03:30), as Go's time.Date
 * and so locksmith do.
 */
export function instantOf(year: number, month: number, day: number, hour: number, minute: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  const before = wall - offsetAt(wall - 86_400_000, timeZone);
  const after = wall - offsetAt(wall + 86_400_000, timeZone);
  const matches = [before, after].filter((candidate) => {
    const t = localTime(candidate, timeZone);
    return t.year === year && t.month === month && t.day === day && t.hour === hour && t.minute === minute;
  });
  if (matches.length > 0) return Math.min(...matches);
  return before;
}
