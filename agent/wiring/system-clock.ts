// The Clock port on the machine's own time and timers: the one the agent and the CLI run with.

import type { Clock } from '../../platform/clock.ts';

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
