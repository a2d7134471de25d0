// The operator's reboot hooks: units started before a coordinated reboot (reboot.before: take the host
// out of a load balancer, drain an orchestrator) and after the new boot passed its health gate
// (reboot.after_healthy), each in order and within a bound. A hook that fails or runs past the bound
// is a failed run; what that means (postpone the reboot, or only report) is the caller's choice.

import { causeChain } from '../../platform/coded-error.ts';
import type { Clock } from '../../platform/clock.ts';

/** Starting and stopping units; a start resolves with systemd's job result once the job ended (a oneshot: once it exited). */
export interface HookUnits {
  start(name: string): Promise<string>;
  stop(name: string): Promise<string>;
}

export type HookKind = 'before' | 'after-healthy';

/** The last run of a kind of hook, for status: when it started, and which unit failed and why (null: all ran). */
export interface HookRun {
  readonly kind: HookKind;
  readonly at: string;
  readonly failed: { readonly unit: string; readonly reason: string } | null;
}

export interface HookDeps {
  readonly units: HookUnits;
  readonly clock: Clock;
  readonly timeoutMs: number;
  readonly log: (fields: Record<string, unknown>, message: string) => void;
}

/** Runs `names` in order, stopping at the first that fails or overruns; the run is also kept for `last()`. */
export class RebootHooks {
  private readonly deps: HookDeps;
  private readonly runs = new Map<HookKind, HookRun>();

  constructor(deps: HookDeps) {
    this.deps = deps;
  }

  last(): readonly HookRun[] {
    return [...this.runs.values()];
  }

  async run(kind: HookKind, names: readonly string[]): Promise<HookRun> {
    const at = this.deps.clock.now().toISOString();
    let failed: HookRun['failed'] = null;
    for (const unit of names) {
      const reason = await this.runOne(unit);
      if (reason !== null) {
        failed = { unit, reason };
        break;
      }
    }
    const run: HookRun = { kind, at, failed };
    if (names.length > 0) {
      this.runs.set(kind, run);
      if (failed === null) this.deps.log({ hook: kind, units: names }, `reboot hook ${kind}: ${names.join(', ')} done`);
      else this.deps.log({ hook: kind, unit: failed.unit, reason: failed.reason }, `reboot hook ${kind}: ${failed.unit} ${failed.reason}`);
    }
    return run;
  }

  /** null when the unit's start job ended "done" within the bound; otherwise why not. */
  private async runOne(unit: string): Promise<string | null> {
    const { units, clock, timeoutMs } = this.deps;
    const timedOut = Symbol('timed out');
    try {
      // The bound's timer is left to run out on its own: it resolves into a race already decided.
      const result = await Promise.race([units.start(unit), clock.sleep(timeoutMs).then(() => timedOut)]);
      if (result === timedOut) {
        // Stopping cancels a oneshot still running, so it cannot go on with its work while the host reboots.
        await units.stop(unit).catch(() => undefined);
        return `ran past reboot.hook_timeout (${Math.round(timeoutMs / 1000)} s) and was stopped`;
      }
      return result === 'done' ? null : `ended "${String(result)}" (see journalctl -u ${unit})`;
    } catch (error) {
      return `could not be started: ${causeChain(error)}`;
    }
  }
}
