// Wall-clock timings of named steps, printed as a table: the VM suites and the demo report where
// their minutes went. Notes (what a builder logged on the way) can be echoed as they come.

export class Timings {
  readonly steps: [string, number][] = [];
  readonly notes: string[] = [];

  private readonly echo: ((line: string) => void) | null;

  constructor(echo: ((line: string) => void) | null = null) {
    this.echo = echo;
  }

  note(line: string): void {
    this.notes.push(line);
    this.echo?.(line);
  }

  async time<T>(name: string, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await work();
    } finally {
      this.steps.push([name, (Date.now() - started) / 1000]);
    }
  }

  table(title: string, withNotes = true): string {
    const width = Math.max(0, ...this.steps.map(([name]) => name.length));
    const rows = this.steps.map(([name, s]) => `  ${name.padEnd(width)} ${s.toFixed(1).padStart(7)} s`);
    const notes = withNotes && this.notes.length > 0 ? ['  notes:', ...this.notes.map((n) => `    ${n}`)] : [];
    return [`${title}:`, ...rows, ...notes].join('\n');
  }

  print(title: string): void {
    console.log(this.table(title));
  }
}
