// The publisher's rollout flags: a spread from the publish time or a given start, waves relative to
// the start or at absolute times, and a usage error that says what is wrong for anything else.

import { describe, expect, it } from 'vitest';
import { rolloutFromFlags } from './publish-rollout.ts';

const now = new Date('2026-12-03T09:30:00.000Z');

function usageError(flags: Parameters<typeof rolloutFromFlags>[0]): string {
  try {
    rolloutFromFlags(flags, now);
  } catch (error) {
    expect(error).toMatchObject({ code: 'ERR_USAGE' });
    return (error as Error).message.split('\n')[0] ?? '';
  }
  throw new Error('accepted');
}

describe('rolloutFromFlags', () => {
  it('is null without a rollout', () => {
    expect(rolloutFromFlags({}, now)).toBeNull();
  });

  it('spreads over a duration from the publish time or from a start with its zone', () => {
    expect(rolloutFromFlags({ rollout: '24h' }, now)).toEqual({ start: '2026-12-03T09:30:00.000Z', durationSeconds: 86_400 });
    expect(rolloutFromFlags({ rollout: '2d', rolloutStart: '2026-12-04T10:00+01:00' }, now)).toEqual({ start: '2026-12-04T09:00:00.000Z', durationSeconds: 172_800 });
  });

  it('reads waves relative to the start, or at absolute times', () => {
    expect(rolloutFromFlags({ waves: '10%@+0h,50%@+6h,100%@+1d' }, now)).toEqual({
      waves: [
        { at: '2026-12-03T09:30:00.000Z', fraction: 0.1 },
        { at: '2026-12-03T15:30:00.000Z', fraction: 0.5 },
        { at: '2026-12-04T09:30:00.000Z', fraction: 1 },
      ],
    });
    expect(rolloutFromFlags({ waves: '1%@+0, 100%@2026-12-05T00:00Z', rolloutStart: '2026-12-04T00:00Z' }, now)).toEqual({
      waves: [
        { at: '2026-12-04T00:00:00.000Z', fraction: 0.01 },
        { at: '2026-12-05T00:00:00.000Z', fraction: 1 },
      ],
    });
  });

  it.each([
    [{ rollout: '24h', waves: '100%@+0h' }, '--rollout and --waves: give one of them'],
    [{ rolloutStart: '2026-12-04T00:00Z' }, '--rollout-start goes with --rollout or --waves'],
    [{ rollout: 'a day' }, '"a day" is not a duration like 30d, 12h or 2y'],
    [{ rollout: '0h' }, '--rollout: rollout.durationSeconds must be a whole number of seconds from 1 to 31622400 (366 days)'],
    [{ rollout: '2y' }, '--rollout: rollout.durationSeconds must be a whole number of seconds from 1 to 31622400 (366 days)'],
    [{ rollout: '24h', rolloutStart: '2026-12-04T00:00' }, '--rollout-start: "2026-12-04T00:00" is not a time with its zone like 2026-12-03T09:00Z or 2026-12-03T10:00+01:00'],
    [{ rollout: '24h', rolloutStart: 'NaN' }, '--rollout-start: "NaN" is not a time with its zone'],
    [{ waves: '10%,100%@+1d' }, '--waves: "10%" is not PERCENT@WHEN like 10%@+0h or 100%@2026-12-04T00:00Z'],
    [{ waves: '50%@+0h,20%@+1h,100%@+2h' }, '--waves: 20%@+1h: each wave\'s percentage must be above the one before it (50%) and at most 100%'],
    [{ waves: '10%@+0h,150%@+1h' }, '--waves: 150%@+1h: each wave\'s percentage must be above the one before it (10%) and at most 100%'],
    [{ waves: '10%@+0h,50%@+6h' }, '--waves: the last wave must be 100% (every host), got 50%'],
    [{ waves: '10%@+6h,100%@+1h' }, '--waves: rollout.waves[1].at must not come before the wave before it'],
    [{ waves: '100%@tomorrow' }, '--waves: "tomorrow" is not a time with its zone'],
  ])('refuses %j: %s', (flags, message) => {
    expect(usageError(flags)).toContain(message);
  });
});
