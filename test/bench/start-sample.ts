// One start of a process that owns a D-Bus name, as the agent start benchmark records it here and
// in a VM, and the medians, rounding and table it prints them with.

export interface StartSample {
  /** Wall seconds from the process's start to owning its bus name. */
  readonly ownSeconds: number;
  /** CPU seconds of the process when it owned the name (null where it cannot be read then). */
  readonly ownCpuSeconds: number | null;
  /** Resident memory when it owned the name. */
  readonly rssStartMiB: number | null;
  /** CPU seconds from owning the name to half the idle period: what it loads after it answers. */
  readonly afterStartCpuSeconds: number | null;
  /** Resident memory at the end of the idle period. */
  readonly rssIdleMiB: number;
  /**
   * The anonymous part of it (heaps, stacks): the rest is file pages, mostly of the node binary
   * (V8, ICU's data), clean and shared with any other process of the same binary.
   */
  readonly anonIdleMiB: number | null;
  /** CPU over the second half of the idle period, as seconds per hour. */
  readonly idleCpuSecondsPerHour: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

export const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** The median of each figure over the samples, rounded for printing; null where no sample has it. */
export function medianSample(samples: readonly StartSample[]): StartSample {
  const of = (pick: (s: StartSample) => number | null, digits: number): number | null => {
    const values = samples.map(pick).filter((v): v is number => v !== null);
    return values.length === 0 ? null : round(median(values), digits);
  };
  return {
    ownSeconds: of((s) => s.ownSeconds, 3) ?? Number.NaN,
    ownCpuSeconds: of((s) => s.ownCpuSeconds, 3),
    rssStartMiB: of((s) => s.rssStartMiB, 1),
    afterStartCpuSeconds: of((s) => s.afterStartCpuSeconds, 3),
    rssIdleMiB: of((s) => s.rssIdleMiB, 1) ?? Number.NaN,
    anonIdleMiB: of((s) => s.anonIdleMiB, 1),
    idleCpuSecondsPerHour: of((s) => s.idleCpuSecondsPerHour, 2) ?? Number.NaN,
  };
}

/** The JSON form: snake case, as the other benchmarks print. */
export function sampleJson(sample: StartSample): Record<string, number | null> {
  return {
    own_s: sample.ownSeconds,
    own_cpu_s: sample.ownCpuSeconds,
    rss_start_mib: sample.rssStartMiB,
    after_start_cpu_s: sample.afterStartCpuSeconds,
    rss_idle_mib: sample.rssIdleMiB,
    anon_idle_mib: sample.anonIdleMiB,
    idle_cpu_s_per_h: sample.idleCpuSecondsPerHour,
  };
}

const COLUMNS = ['owns name (s)', 'CPU then (s)', 'RSS then (MiB)', 'CPU after (s)', 'RSS idle (MiB)', 'of it anon', 'idle CPU (s/h)'];

export function sampleTable(rows: readonly (readonly [string, StartSample])[]): string {
  const cell = (value: number | null): string => (value === null || Number.isNaN(value) ? '-' : String(value));
  const body = rows.map(([name, s]) => [name, ...[s.ownSeconds, s.ownCpuSeconds, s.rssStartMiB, s.afterStartCpuSeconds, s.rssIdleMiB, s.anonIdleMiB, s.idleCpuSecondsPerHour].map(cell)]);
  const all = [['', ...COLUMNS], ...body];
  const widths = COLUMNS.map((_, i) => Math.max(...all.map((row) => row[i + 1]?.length ?? 0)));
  const nameWidth = Math.max(...all.map((row) => row[0]?.length ?? 0));
  return all.map((row) => [(row[0] ?? '').padEnd(nameWidth), ...row.slice(1).map((c, i) => c.padStart(widths[i] ?? 0))].join('  ')).join('\n');
}
