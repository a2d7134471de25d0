// `slipway units UNIT...`: how the health gate sees units on this boot, read from systemd the way the
// gate reads them (state, result, restarts, whether it started, its conditions) with the gate's
// judgement of each: for an operator asking why a gate waits, and for the VM suite's contract run.

import { UsageError } from './cli-error.ts';
import { parseCommand } from './agent-command-kit.ts';
import { judgeUnit } from '../health/unit-judgement.ts';
import type { CliIo } from './io.ts';
import type { UnitState, UnitStates } from '../health/health-ports.ts';
import type { UnitJudgement } from '../health/unit-judgement.ts';

export interface UnitsDeps {
  readonly io: CliIo;
  /** The systemd adapter the health gate uses, on the system bus; close() hangs up. */
  readonly openUnitStates: () => Promise<{ readonly states: UnitStates; readonly close: () => void }>;
}

export const UNITS_USAGE = `usage:
  slipway units UNIT... [--json]   each unit's state on this boot as the health gate reads it, and its verdict
A verdict is ok (active; exited 0; skipped by its own condition), pending (starting, crash-looping,
never started: the gate waits) or failed. Reads systemd directly: the agent need not run.`;

export interface UnitReport {
  readonly unit: string;
  readonly state: UnitState;
  readonly verdict: UnitJudgement;
}

export async function runUnits(argv: readonly string[], deps: UnitsDeps): Promise<number> {
  const parsed = parseCommand(argv, UNITS_USAGE, {}, deps.io);
  if (parsed === null) return 0;
  if (parsed.positionals.length === 0) throw new UsageError(`units: name at least one unit\n${UNITS_USAGE}`);
  const bad = parsed.positionals.find((name) => !/^[\w:.@\\-]+$/.test(name));
  if (bad !== undefined) throw new UsageError(`units: ${JSON.stringify(bad)} is not a unit name\n${UNITS_USAGE}`);
  const { states, close } = await deps.openUnitStates();
  const reports: UnitReport[] = [];
  try {
    for (const unit of parsed.positionals) {
      const state = await states.unitState(unit);
      reports.push({ unit, state, verdict: judgeUnit(state) });
    }
  } finally {
    close();
  }
  if (parsed.values.json) deps.io.stdout(`${JSON.stringify(reports)}\n`);
  else for (const r of reports) deps.io.stdout(`${formatUnit(r)}\n`);
  return 0;
}

function formatUnit({ unit, state, verdict }: UnitReport): string {
  const restarts = state.nRestarts === null ? '' : `, ${state.nRestarts} restarts`;
  return `${unit}: ${verdict.state} — ${verdict.reason} [${state.loadState}, ${state.activeState}/${state.subState}${state.result === null ? '' : `, result ${state.result}`}${restarts}, condition ${state.condition}]`;
}
