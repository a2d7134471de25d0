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

/** The closest known word within a small edit distance, for "did you mean" hints. */
export function didYouMean(word: string, known: readonly string[]): string | null {
  let best: { word: string; distance: number } | null = null;
  for (const candidate of known) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance <= Math.max(1, Math.floor(candidate.length / 3)) && (best === null || distance < best.distance)) best = { word: candidate, distance };
  }
  return best?.word ?? null;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}
