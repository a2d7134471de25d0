// The error of an unusable configuration: every problem found in every file at once, one line each
// as "FILE line N: KEY: message", so an operator fixes them all in one pass.

import { CodedError } from '../../platform/coded-error.ts';

/** One problem with where it is; line null when it concerns the file as a whole (unreadable). */
export interface ConfigProblem {
  readonly file: string;
  readonly line: number | null;
  /** The key as written ("reboot.strategy", "update.servers[1]", "REBOOT_STRATEGY"); null when the message names it. */
  readonly key: string | null;
  readonly message: string;
}

export function formatProblem(problem: ConfigProblem): string {
  const where = problem.line === null ? problem.file : `${problem.file} line ${problem.line}`;
  return `${where}: ${problem.key === null ? '' : `${problem.key}: `}${problem.message}`;
}

export class ConfigError extends CodedError<'ERR_CONFIG_INVALID'> {
  /** The formatted problems, one per line of the message after its first. */
  readonly problems: readonly string[];

  constructor(problems: readonly ConfigProblem[], options?: { cause?: unknown }) {
    const lines = problems.map(formatProblem);
    super('ERR_CONFIG_INVALID', `invalid slipway settings, ${lines.length} problem${lines.length === 1 ? '' : 's'}:\n${lines.join('\n')}`, options);
    this.name = 'ConfigError';
    this.problems = lines;
  }
}
