// A UnitStates port for unit tests of the health gate: each unit's state is a function of the time
// on the test clock since the script began, so a crash loop or a late start is written as a timeline.

import type { UnitState, UnitStates } from '../../agent/health/health-ports.ts';
import type { TestClock } from './test-clock.ts';

export const RUNNING: UnitState = { loadState: 'loaded', activeState: 'active', subState: 'running', result: 'success', nRestarts: 0, condition: 'passed', started: true };
export const NEVER_STARTED: UnitState = { loadState: 'loaded', activeState: 'inactive', subState: 'dead', result: 'success', nRestarts: 0, condition: 'not-checked', started: false };
export const TARGET_ACTIVE: UnitState = { ...RUNNING, subState: 'active', result: null, nRestarts: null };

/** A crash loop: RestartSec `everyMs`, the process dies at once, so systemd shows auto-restart with one more restart each time. */
export function crashLoop(everyMs: number): (ms: number) => UnitState {
  return (ms) => ({ ...RUNNING, activeState: 'activating', subState: 'auto-restart', result: 'exit-code', nRestarts: 1 + Math.floor(ms / everyMs) });
}

export class ScriptedUnits implements UnitStates {
  private readonly clock: TestClock;
  private readonly start: number;
  private readonly script: Readonly<Record<string, UnitState | ((ms: number) => UnitState)>>;
  /** Every unit asked for, in order. */
  readonly asked: string[] = [];

  constructor(clock: TestClock, script: Readonly<Record<string, UnitState | ((ms: number) => UnitState)>>) {
    this.clock = clock;
    this.start = clock.now().getTime();
    this.script = script;
  }

  unitState(name: string): Promise<UnitState> {
    this.asked.push(name);
    const entry = this.script[name] ?? (name === 'multi-user.target' ? TARGET_ACTIVE : { ...NEVER_STARTED, loadState: 'not-found' });
    return Promise.resolve(typeof entry === 'function' ? entry(this.clock.now().getTime() - this.start) : entry);
  }
}
