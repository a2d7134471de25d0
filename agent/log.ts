// Logger factory: JSON lines when stderr is not a terminal (journald keeps the fields), readable
// coloured lines on a terminal. Logs go to stderr so that stdout carries only command output.

import { pino } from 'pino';
import type { Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export function createLogger(options: { level: string; tty: boolean }): Logger {
  const base = { level: options.level, base: null };
  if (options.tty) return pino(base, pretty({ colorize: true, sync: true, destination: 2 }));
  return pino(base, pino.destination({ dest: 2, sync: true }));
}
