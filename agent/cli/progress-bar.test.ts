// The progress line: bar, percentage, sizes, rate over the samples seen, and time left.

import { describe, expect, it } from 'vitest';
import { formatBytes, formatProgress } from './progress-bar.ts';

const MiB = 1024 * 1024;

describe('progress bar', () => {
  it('shows size, rate and ETA from the samples', () => {
    const samples = [
      { atMs: 0, bytesDone: 0 },
      { atMs: 2000, bytesDone: 6 * MiB },
      { atMs: 4000, bytesDone: 12 * MiB },
    ];
    expect(formatProgress('1.0.1', 24 * MiB, samples)).toBe('1.0.1 [##########----------]  50%  12.0 MiB/24.0 MiB  3.0 MiB/s  ETA 4s');
  });

  it('has no rate or ETA before two samples, and reads minutes', () => {
    expect(formatProgress('1.0.1', 10, [{ atMs: 0, bytesDone: 0 }], 4)).toBe('1.0.1 [----]   0%  0 B/10 B  --/s  ETA --');
    expect(formatProgress('2', 600 * MiB, [{ atMs: 0, bytesDone: 0 }, { atMs: 1000, bytesDone: MiB }], 4)).toBe('2 [----]   0%  1.0 MiB/600.0 MiB  1.0 MiB/s  ETA 9m59s');
    expect(formatBytes(1536)).toBe('1.5 KiB');
  });
});
