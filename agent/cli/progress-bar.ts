// A one-line download progress bar for the terminal: done and total size, rate and time left,
// computed from the agent's progress signals as they arrive.

export interface ProgressSample {
  readonly atMs: number;
  readonly bytesDone: number;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit] ?? 'B'}`;
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** "1.0.1 [#########-----------]  45%  12.0 MiB/27.0 MiB  3.0 MiB/s  ETA 5s"; the rate spans the first and last sample. */
export function formatProgress(version: string, totalBytes: number, samples: readonly ProgressSample[], width = 20): string {
  const last = samples.at(-1);
  const first = samples[0];
  const done = last?.bytesDone ?? 0;
  const fraction = totalBytes > 0 ? Math.min(1, done / totalBytes) : 0;
  const filled = Math.round(fraction * width);
  const seconds = first && last ? (last.atMs - first.atMs) / 1000 : 0;
  const rate = seconds > 0 && first && last ? (last.bytesDone - first.bytesDone) / seconds : 0;
  const eta = rate > 0 ? (totalBytes - done) / rate : Number.POSITIVE_INFINITY;
  return `${version} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%  ${formatBytes(done)}/${formatBytes(totalBytes)}  ${rate > 0 ? `${formatBytes(rate)}/s` : '--/s'}  ETA ${formatSeconds(eta)}`;
}
