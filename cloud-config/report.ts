// A validation report: every problem found, each with its line, severity and message, printed the
// way coreos-cloudinit's validator prints them ("line N: error: message").

export type Severity = 'error' | 'warning';

export interface Problem {
  readonly line: number;
  readonly severity: Severity;
  readonly message: string;
}

export class Report {
  readonly problems: Problem[] = [];

  add(line: number, severity: Severity, message: string): void {
    this.problems.push({ line, severity, message });
  }

  get hasErrors(): boolean {
    return this.problems.some((p) => p.severity === 'error');
  }

  sorted(): Problem[] {
    return [...this.problems].sort((a, b) => a.line - b.line || (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));
  }

  format(): string {
    return this.sorted()
      .map((p) => `line ${p.line}: ${p.severity}: ${p.message}\n`)
      .join('');
  }
}
