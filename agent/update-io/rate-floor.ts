// The minimum transfer rate (update.min_rate over update.rate_window): counts the bytes a transfer
// delivers on the injected clock and refuses one that delivers fewer than the floor in a window.

import { UpdateError } from '../update/update-errors.ts';

export interface RateFloorSettings {
  /** Bytes per second a transfer must keep over each window; 0 turns the check off. */
  readonly minRateBytesPerSecond: number;
  readonly rateWindowMs: number;
}

/**
 * 4 KiB/s over a minute: 4 times dnf's minrate (1000 B/s over 30 s), still far below any link an
 * update could be fetched over in its interval, and a minute absorbs a stalled TCP retransmit, a Wi-Fi
 * roam or the agent's own slot flushes. A drip is then caught within a window plus the idle timeout.
 */
export const DEFAULT_RATE_FLOOR: RateFloorSettings = { minRateBytesPerSecond: 4 * 1024, rateWindowMs: 60_000 };

/** "512 B/s", "4 KiB/s", "1.5 MiB/s". */
export function formatRate(bytesPerSecond: number): string {
  const units = [['MiB/s', 1024 * 1024], ['KiB/s', 1024]] as const;
  for (const [unit, size] of units) {
    if (bytesPerSecond >= size) return `${Number((bytesPerSecond / size).toFixed(1))} ${unit}`;
  }
  return `${Math.floor(bytesPerSecond)} B/s`;
}

/**
 * Windows follow one another from the start of the transfer. Bytes are counted as they are taken
 * from the connection, so a window is judged when bytes come: a drip is caught at its first byte past
 * a window's end, and a connection that sends nothing at all is the idle timeout's. A window that
 * ran long (a byte came late) is judged over its whole length.
 */
export class RateFloor {
  private readonly settings: RateFloorSettings;
  private readonly now: () => number;
  private readonly what: string;
  private windowStart: number;
  private inWindow = 0;

  constructor(settings: RateFloorSettings, now: () => number, what: string) {
    this.settings = settings;
    this.now = now;
    this.what = what;
    this.windowStart = now();
  }

  /** Counts `bytes` that just arrived; throws ERR_TRANSFER_TOO_SLOW when the window they close fell short. */
  add(bytes: number): void {
    const { minRateBytesPerSecond: floor, rateWindowMs } = this.settings;
    if (floor <= 0) return;
    this.inWindow += bytes;
    const at = this.now();
    const elapsedMs = at - this.windowStart;
    if (elapsedMs < rateWindowMs) return;
    const seen = this.inWindow / (elapsedMs / 1000);
    if (seen < floor) {
      throw new UpdateError(
        'ERR_TRANSFER_TOO_SLOW',
        `${this.what} is too slow: ${formatRate(seen)} over the last ${Number((elapsedMs / 1000).toFixed(1))} s, below the minimum of ${formatRate(floor)} (update.min_rate over update.rate_window of ${rateWindowMs / 1000} s)`,
      );
    }
    this.windowStart = at;
    this.inWindow = 0;
  }
}
