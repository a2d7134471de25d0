// The rate floor's judgement on a driven clock: windows judged when bytes come, over their whole length.

import { describe, expect, it } from 'vitest';
import { formatRate, RateFloor } from './rate-floor.ts';

describe('RateFloor', () => {
  const floorAt = (clock: { at: number }, rate: number, windowMs: number): RateFloor => new RateFloor({ minRateBytesPerSecond: rate, rateWindowMs: windowMs }, () => clock.at, 'payload transfer from http://m/p');

  it('passes windows that keep the rate and judges each window afresh', () => {
    const clock = { at: 0 };
    const floor = floorAt(clock, 100, 1_000);
    for (let i = 0; i < 50; i++) {
      clock.at += 100;
      floor.add(10); // exactly 100 B/s
    }
    // A fast first part does not pay for a slow later window.
    clock.at += 1_000;
    expect(() => floor.add(99)).toThrow(expect.objectContaining({ code: 'ERR_TRANSFER_TOO_SLOW' }));
  });

  it('judges a window that ran long over its whole length', () => {
    const clock = { at: 0 };
    const floor = floorAt(clock, 4096, 60_000);
    clock.at = 29_000;
    floor.add(1);
    clock.at = 58_000;
    floor.add(1);
    clock.at = 87_000;
    expect(() => floor.add(1)).toThrow(
      expect.objectContaining({ message: 'payload transfer from http://m/p is too slow: 0 B/s over the last 87 s, below the minimum of 4 KiB/s (update.min_rate over update.rate_window of 60 s)' }),
    );
  });

  it('does nothing with a floor of 0', () => {
    const clock = { at: 0 };
    const floor = floorAt(clock, 0, 1_000);
    clock.at = 1e9;
    expect(() => floor.add(0)).not.toThrow();
  });

  it('formats rates', () => {
    expect([0.03, 512, 1024, 4096, 1536 * 1024].map(formatRate)).toEqual(['0 B/s', '512 B/s', '1 KiB/s', '4 KiB/s', '1.5 MiB/s']);
  });
});
