// Logger factory: JSON lines when stderr is not a terminal (journald keeps the fields), readable
// coloured lines on a terminal. Logs go to stderr so that stdout carries only command output.

import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger };

/** pino-pretty (and what it pulls in) is loaded only for a terminal: the agent under systemd never needs it. */
export async function createLogger(options: { level: string; tty: boolean }): Promise<Logger> {
  const base = { level: options.level, base: null };
  if (!options.tty) return pino(base, pino.destination({ dest: 2, sync: true }));
  const { default: pretty } = await import('pino-pretty');
  return pino(base, pretty({ colorize: true, sync: true, destination: 2 }));
}
