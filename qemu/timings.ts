// Wall-clock timings of named steps, printed as a table: the VM suites and the demo report where
// their minutes went.

export class Timings {
  readonly steps: [string, number][] = [];
  readonly notes: string[] = [];

  async time<T>(name: string, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await work();
    } finally {
      this.steps.push([name, (Date.now() - started) / 1000]);
    }
  }

  table(title: string): string {
    return `${title}:\n${this.steps.map(([name, s]) => `  ${name.padEnd(44)} ${s.toFixed(1).padStart(6)} s`).join('\n')}${this.notes.length ? `\n  ${this.notes.join('\n  ')}` : ''}`;
  }

  print(title: string): void {
    console.log(this.table(title));
  }
}
