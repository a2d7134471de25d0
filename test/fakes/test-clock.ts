// A Clock for tests: sleeping moves time forward at once and is recorded, so waits can be asserted.

import type { Clock } from '../../platform/clock.ts';

export class TestClock implements Clock {
  private current: number;
  readonly sleeps: number[] = [];

  constructor(start: string | number) {
    this.current = typeof start === 'string' ? Date.parse(start) : start;
  }

  now(): Date {
    return new Date(this.current);
  }

  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.current += ms;
    return Promise.resolve();
  }

  advance(ms: number): void {
    this.current += ms;
  }
}
