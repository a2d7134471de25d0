// `slipway release publish`'s rollout flags read into the schedule the manifest carries:
// --rollout DURATION [--rollout-start TIME] spreads hosts evenly, --waves SPEC lets them in by waves.

import { UsageError } from './cli-error.ts';
import { rolloutProblem } from '../../images/rollout-schedule.ts';
import type { RolloutSchedule } from '../../images/rollout-schedule.ts';

export const ROLLOUT_USAGE = `--rollout DURATION    hosts take the release spread evenly over DURATION (6h, 2d) from the start
--rollout-start TIME  the start: a time with its zone (2026-12-03T09:00Z, 2026-12-03T10:00+01:00);
                      default the publish time
--waves SPEC          hosts take it in waves: PERCENT@WHEN,… with WHEN +DURATION after the start or a
                      time with its zone; percentages of the fleet grow to 100%, e.g.
                      --waves 10%@+0h,50%@+6h,100%@+1d`;

/** "30d", "12h", "90m", "2y", "45s" as seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhdwy])$/.exec(text);
  if (!match) throw new UsageError(`"${text}" is not a duration like 30d, 12h or 2y`);
  const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 }[match[2] as 's'];
  return Number(match[1]) * unit;
}

const ZONED_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/** A time the publisher gives, with its zone (a local time would be read in each host's zone), as UTC milliseconds. */
function parseTime(text: string, flag: string): number {
  const ms = ZONED_TIME.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) throw new UsageError(`${flag}: "${text}" is not a time with its zone like 2026-12-03T09:00Z or 2026-12-03T10:00+01:00\n${ROLLOUT_USAGE}`);
  return ms;
}

function parseWaves(spec: string, startMs: number): RolloutSchedule {
  let previous = 0;
  const waves = spec.split(',').map((item) => {
    const match = /^(\d{1,3}(?:\.\d{1,3})?)%@(.+)$/.exec(item.trim());
    if (!match) throw new UsageError(`--waves: "${item}" is not PERCENT@WHEN like 10%@+0h or 100%@2026-12-04T00:00Z\n${ROLLOUT_USAGE}`);
    const percent = Number(match[1]);
    const when = match[2] ?? '';
    if (percent <= previous || percent > 100) throw new UsageError(`--waves: ${item}: each wave's percentage must be above the one before it (${previous}%) and at most 100%`);
    previous = percent;
    const at = when.startsWith('+') ? startMs + parseDuration(when.slice(1) === '0' ? '0s' : when.slice(1)) * 1000 : parseTime(when, '--waves');
    return { at: new Date(at).toISOString(), fraction: percent / 100 };
  });
  if (previous !== 100) throw new UsageError(`--waves: the last wave must be 100% (every host), got ${previous}%`);
  return { waves };
}

/** The schedule the flags ask for; null without --rollout or --waves. Checked as agents check it, so a publisher cannot write one they refuse. */
export function rolloutFromFlags(flags: { rollout?: string | undefined; rolloutStart?: string | undefined; waves?: string | undefined }, now: Date): RolloutSchedule | null {
  const { rollout, rolloutStart, waves } = flags;
  if (rollout !== undefined && waves !== undefined) throw new UsageError(`--rollout and --waves: give one of them\n${ROLLOUT_USAGE}`);
  if (rollout === undefined && waves === undefined) {
    if (rolloutStart !== undefined) throw new UsageError(`--rollout-start goes with --rollout or --waves\n${ROLLOUT_USAGE}`);
    return null;
  }
  const startMs = rolloutStart === undefined ? now.getTime() : parseTime(rolloutStart, '--rollout-start');
  const schedule = waves === undefined ? { start: new Date(startMs).toISOString(), durationSeconds: parseDuration(rollout ?? '') } : parseWaves(waves, startMs);
  const problem = rolloutProblem(schedule);
  if (problem !== null) throw new UsageError(`${waves === undefined ? '--rollout' : '--waves'}: ${problem}\n${ROLLOUT_USAGE}`);
  return schedule;
}
